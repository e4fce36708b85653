/* albert_np explain: the page's script. It reads the JSON in #albert-np-data (written by
   albert_np/explain.py) and draws the views on canvas. Vanilla JavaScript: no library,
   no network, no build step.
   Legend: T tokens, A heads, R attention runs (layer applications x inner layers),
   L layer applications, K weights kept per row. */
(function () {
  "use strict";

  var D, T, A, R, L, att;
  var S = { run: 0, head: 0, token: 0, hover: null, hideSpecial: false, scale: "sqrt", measure: "update_norm",
    matrix: null };
  var MONO = 'ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace';
  var BLUE = "0,114,178", VERMILLION = "#D55E00", MUTED = "#5a5a5a";
  // viridis at 8 evenly spaced points (colour-blind safe, readable in grey)
  var VIRIDIS = [[68, 1, 84], [70, 50, 126], [54, 92, 141], [39, 127, 142], [31, 161, 135], [74, 193, 109],
    [160, 218, 57], [253, 231, 37]];

  // ---------------------------------------------------------------- helpers
  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "cls") e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }

  function clamp(x, lo, hi) { return Math.max(lo, Math.min(hi, x)); }

  function viridis(t) {
    t = clamp(isFinite(t) ? t : 0, 0, 1) * 7;
    var i = Math.min(6, Math.floor(t)), f = t - i, a = VIRIDIS[i], b = VIRIDIS[i + 1];
    return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
  }

  function decodeBase64(s) {
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function sizeCanvas(c, w, h) {
    var dpr = window.devicePixelRatio || 1;
    c.width = Math.max(1, Math.round(w * dpr));
    c.height = Math.max(1, Math.round(h * dpr));
    c.style.width = w + "px";
    c.style.height = h + "px";
    var ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
  }

  // An offscreen rows x cols image of values coloured by viridis(value / top).
  function heatImage(values, rows, cols, lo, hi) {
    var c = document.createElement("canvas");
    c.width = cols; c.height = rows;
    var ctx = c.getContext("2d"), img = ctx.createImageData(cols, rows), span = hi - lo || 1;
    for (var k = 0; k < rows * cols; k++) {
      var rgb = viridis((values[k] - lo) / span);
      img.data[4 * k] = rgb[0]; img.data[4 * k + 1] = rgb[1]; img.data[4 * k + 2] = rgb[2]; img.data[4 * k + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    return c;
  }

  // The attention colour and line scale: sqrt(weight) (weak links stay visible) or the weight itself.
  function level(w) { return S.scale === "sqrt" ? Math.sqrt(w) : w; }

  function legendBar(box, lo, hi, digits, caption) {
    box.textContent = "";
    var c = el("canvas"), ctx = sizeCanvas(c, 120, 10);
    for (var x = 0; x < 120; x++) {
      var rgb = viridis(x / 119);
      ctx.fillStyle = "rgb(" + rgb.map(Math.round).join(",") + ")";
      ctx.fillRect(x, 0, 1, 10);
    }
    box.appendChild(el("div", { text: caption }));
    box.appendChild(c);
    box.appendChild(el("div", { text: lo.toFixed(digits) + " \u2026 " + hi.toFixed(digits) }));
  }

  function cut(s, n) { return s.length <= n ? s : s.slice(0, n - 1) + "\u2026"; }
  function piece(t) { return D.tokens.pieces[t]; }
  function isSpecial(t) { return D.tokens.kind[t] === "special"; }
  function tokenName(t) { return piece(t) + " (#" + t + ")"; }
  function runLabel(r) {
    var run = D.runs[r], inner = D.model.config.inner_group_num > 1, groups = D.model.config.num_hidden_groups > 1;
    return "application " + run.application + (inner ? " \u00b7 layer " + run.layer : "") +
      (groups ? " (group " + run.group + ")" : "");
  }

  // ---------------------------------------------------------------- attention data
  // Rows as the page holds them: all 8-bit weights ("full"), or each row's K largest ("top_k").
  function makeAttention(a) {
    var w = decodeBase64(a.weights);
    if (a.mode === "full") {
      return {
        row: function (r, h, i) {
          var base = ((r * A + h) * T + i) * T, idx = [], ws = [];
          for (var j = 0; j < T; j++) if (w[base + j]) { idx.push(j); ws.push(w[base + j] / 255); }
          return { idx: idx, w: ws };
        },
        matrix: function (r, h) {
          var base = (r * A + h) * T * T, out = new Float32Array(T * T);
          for (var k = 0; k < T * T; k++) out[k] = w[base + k] / 255;
          return out;
        },
        thumbnail: function (r, h) { return { size: T, values: this.matrix(r, h) }; }
      };
    }
    var K = a.k, ib = decodeBase64(a.index), tb = decodeBase64(a.thumbnails), size = a.thumbnail_size;
    function index(k) { return ib[2 * k] | (ib[2 * k + 1] << 8); }
    return {
      row: function (r, h, i) {
        var base = ((r * A + h) * T + i) * K, idx = [], ws = [];
        for (var n = 0; n < K; n++) if (w[base + n]) { idx.push(index(base + n)); ws.push(w[base + n] / 255); }
        return { idx: idx, w: ws };
      },
      matrix: function (r, h) {
        var out = new Float32Array(T * T), base = (r * A + h) * T * K;
        for (var i = 0; i < T; i++) {
          for (var n = 0; n < K; n++) {
            var k = base + i * K + n;
            out[i * T + index(k)] = w[k] / 255;
          }
        }
        return out;
      },
      thumbnail: function (r, h) {
        var base = (r * A + h) * size * size, out = new Float32Array(size * size), scale = a.thumbnail_scale[r * A + h];
        for (var k = 0; k < size * size; k++) out[k] = tb[base + k] / 255 * scale;
        return { size: size, values: out };
      }
    };
  }

  // ---------------------------------------------------------------- header
  function buildHeader() {
    var m = D.model, c = m.config, h = $("header"), G = c.num_hidden_groups, inner = c.inner_group_num;
    h.appendChild(el("h1", { text: "Inside ALBERT: one forward pass" }));
    function shown(s) {
      return s.length <= 240 ? s : s.slice(0, 239) + "\u2026 (" + s.length.toLocaleString("en-US") + " characters)";
    }
    var text = el("p", { cls: "text" }, ["Text: ", el("q", { text: shown(D.text) })]);
    if (D.pair !== null) {
      text.appendChild(document.createTextNode("  second text: "));
      text.appendChild(el("q", { text: shown(D.pair) }));
    }
    h.appendChild(text);
    var layers = (G === 1 ? "one shared layer" : G + " groups of shared layers") +
      (inner > 1 ? " (" + inner + " layers each)" : "") + " applied " + c.num_hidden_layers + " times";
    var arch = "vocabulary " + c.vocab_size.toLocaleString("en-US") + " \u00b7 embeddings " + c.embedding_size +
      " \u2192 hidden " + c.hidden_size + " \u00b7 " + layers + " \u00b7 " + c.num_attention_heads + " heads of " +
      (c.hidden_size / c.num_attention_heads) + " \u00b7 feed-forward " + c.intermediate_size + " \u00b7 " +
      c.max_position_embeddings + " positions \u00b7 " + c.hidden_act;
    var dl = el("dl");
    [["Model", m.name], ["Class", m["class"] + " \u00b7 " + m.parameters.toLocaleString("en-US") + " parameters"],
      ["Config", arch],
      ["Computed by", D.library + ": one forward pass (model.albert_model with every attention and hidden state) " +
        (m.has_mlm_head ? "and the model's own masked-LM head (model.mlm_head)" : "(this model has no masked-LM head)")]
    ].forEach(function (kv) { dl.appendChild(el("dt", { text: kv[0] })); dl.appendChild(el("dd", { text: kv[1] })); });
    h.appendChild(dl);
    var table = el("table");
    Object.keys(c).sort().forEach(function (k) {
      table.appendChild(el("tr", {}, [el("td", { text: k }), el("td", { text: JSON.stringify(c[k]) })]));
    });
    h.appendChild(el("details", {}, [el("summary", { text: "config.json" }), table]));
    if (D.truncation) { $("cut-note").hidden = false; $("cut-note").textContent = D.truncation.message; }
  }

  // ---------------------------------------------------------------- 1 tokens
  var textSpans = [[], []], chips = [];

  function buildTokens() {
    var tk = D.tokens, texts = $("texts");
    [D.text, D.pair].forEach(function (text, s) {
      if (text === null) return;
      var cutAt = text.length;
      (D.truncation ? D.truncation.cuts : []).forEach(function (c) { if (c.sequence === s) cutAt = c.from_char; });
      var cuts = [0, cutAt, text.length];
      for (var t = 0; t < T; t++) if (tk.sequence[t] === s) { cuts.push(tk.offsets[t][0], tk.offsets[t][1]); }
      cuts = cuts.filter(function (x, i, a) { return a.indexOf(x) === i; }).sort(function (a, b) { return a - b; });
      var name = D.pair === null ? "text" : (s === 0 ? "text A" : "text B");
      var line = el("div", { cls: "text-line" }, [el("span", { cls: "label seq" + s, text: name })]);
      for (var i = 0; i + 1 < cuts.length; i++) {
        var span = el("span", { text: text.slice(cuts[i], cuts[i + 1]) });
        if (cuts[i] >= cutAt) { span.className = "cut"; span.title = "cut: beyond the tokens this model reads"; }
        span.dataset.start = cuts[i]; span.dataset.end = cuts[i + 1];
        textSpans[s].push(span);
        span.addEventListener("mouseenter", hoverText.bind(null, s, cuts[i], cuts[i + 1]));
        span.addEventListener("mouseleave", clearTokenHover);
        line.appendChild(span);
      }
      texts.appendChild(line);
    });
    var box = $("chips");
    for (var t = 0; t < T; t++) {
      var kind = tk.kind[t];
      var chip = el("button", { type: "button", cls: "chip" + (tk.types[t] === 1 ? " type1" : "") +
        (kind === "special" ? " special" : kind === "mask" ? " mask" : ""), title: tokenInfo(t) },
        [el("span", { cls: "piece", text: tk.pieces[t] }), el("span", { cls: "id", text: String(tk.ids[t]) })]);
      chip.addEventListener("mouseenter", hoverToken.bind(null, t));
      chip.addEventListener("mouseleave", clearTokenHover);
      chip.addEventListener("click", selectToken.bind(null, t));
      chips.push(chip);
      box.appendChild(chip);
    }
    var key = el("p", { cls: "small" }, [el("span", { cls: "type-key", style: "background:#0072B2" }), "token type 0" +
      (D.pair === null ? "" : " (text A)")]);
    if (D.pair !== null) {
      key.appendChild(el("span", { cls: "type-key", style: "background:#E69F00" }));
      key.appendChild(document.createTextNode("token type 1 (text B)"));
    }
    key.appendChild(document.createTextNode("  \u00b7  dashed grey: added by the tokenizer  \u00b7  yellow: " + D.mask_token +
      "  \u00b7  small number: the id"));
    box.parentNode.insertBefore(key, box.nextSibling);
  }

  function tokenInfo(t) {
    var tk = D.tokens, o = tk.offsets[t], s = tk.sequence[t];
    var where;
    if (s === null) where = "added by the tokenizer (no characters of the text)";
    else if (o[0] === o[1]) where = "no characters of its own (the word-start mark \u2581 alone)";
    else where = "characters " + o[0] + "\u2013" + o[1] + " of " + (s === 0 ? "the text" : "the second text") + ": \u201c" +
      (s === 0 ? D.text : D.pair).slice(o[0], o[1]) + "\u201d";
    return "#" + t + "  " + tk.pieces[t] + "  id " + tk.ids[t] + "  type " + tk.types[t] + "  \u00b7  " + where;
  }

  function hoverToken(t) {
    clearTokenHover();
    chips[t].classList.add("hover");
    var tk = D.tokens, s = tk.sequence[t];
    if (s !== null) {
      textSpans[s].forEach(function (span) {
        var o = tk.offsets[t];
        if (+span.dataset.start >= o[0] && +span.dataset.end <= o[1] && o[0] < o[1]) span.classList.add("hl");
      });
    }
    $("token-readout").textContent = tokenInfo(t);
  }

  function hoverText(s, start, end) {
    clearTokenHover();
    var tk = D.tokens, found = [];
    for (var t = 0; t < T; t++) {
      if (tk.sequence[t] === s && tk.offsets[t][0] <= start && tk.offsets[t][1] >= end && tk.offsets[t][0] < tk.offsets[t][1]) {
        chips[t].classList.add("hover"); found.push(t);
      }
    }
    textSpans[s].forEach(function (span) { if (+span.dataset.start === start) span.classList.add("hl"); });
    $("token-readout").textContent = found.length ? found.map(tokenInfo).join("   |   ") :
      "no token covers these characters (spaces)";
  }

  function clearTokenHover() {
    chips.forEach(function (c) { c.classList.remove("hover"); });
    textSpans.forEach(function (list) { list.forEach(function (s) { s.classList.remove("hl"); }); });
  }

  function selectToken(t) {
    S.token = clamp(t, 0, T - 1);
    chips.forEach(function (c, i) { c.classList.toggle("selected", i === S.token); });
    drawLayers();
    drawLens();
  }

  // ---------------------------------------------------------------- 2 attention
  var HV = {};

  function buildAttention() {
    var sel = $("run-select");
    for (var r = 0; r < R; r++) {
      sel.appendChild(el("option", { value: String(r), text: R === L ? String(r + 1) : (r + 1) + " \u00b7 " + runLabel(r) }));
    }
    sel.addEventListener("change", function () { selectHead(+sel.value, S.head); });
    $("run-prev").addEventListener("click", function () { selectHead(S.run - 1, S.head); });
    $("run-next").addEventListener("click", function () { selectHead(S.run + 1, S.head); });
    var hb = $("head-buttons");
    for (var h = 0; h < A; h++) {
      var b = el("button", { type: "button", text: String(h + 1), "aria-pressed": "false", "aria-label": "head " + (h + 1) });
      b.addEventListener("click", selectHead.bind(null, null, h));
      hb.appendChild(b);
    }
    $("hide-special").addEventListener("change", function (e) { S.hideSpecial = e.target.checked; drawHead(); });
    $("scale-select").addEventListener("change", function (e) {
      S.scale = e.target.value; drawHead(); drawMatrix(); drawThumbnails();
    });
    $("attention-view").addEventListener("keydown", function (e) {
      if (e.target.tagName === "SELECT") return;          // a select moves with the arrows itself
      var d = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] }[e.key];
      if (!d) return;
      e.preventDefault();
      selectHead(S.run + d[0], S.head + d[1]);
    });
    // head view geometry
    var c = $("head-canvas"), probe = c.getContext("2d");
    HV.rowH = T <= 40 ? 20 : T <= 128 ? 16 : 13;
    HV.font = (HV.rowH >= 16 ? 13 : 11) + "px " + MONO;
    probe.font = HV.font;
    HV.labelW = 40;
    for (var t = 0; t < T; t++) HV.labelW = Math.max(HV.labelW, probe.measureText(cut(piece(t), 16)).width);
    HV.labelW = Math.ceil(Math.min(HV.labelW, 150));
    probe.font = "12px " + MONO;
    HV.labelW = Math.max(HV.labelW, Math.ceil(probe.measureText("from (query)").width) - 4);
    HV.top = 26;
    HV.W = 2 * HV.labelW + (T <= 40 ? 170 : 150);
    HV.H = HV.top + T * HV.rowH + 6;
    HV.x1 = 6 + HV.labelW + 8;
    HV.x2 = HV.W - 6 - HV.labelW - 8;
    HV.ctx = sizeCanvas(c, HV.W, HV.H);
    c.addEventListener("mousemove", function (e) {
      var rect = c.getBoundingClientRect(), x = e.clientX - rect.left, y = e.clientY - rect.top;
      var i = Math.floor((y - HV.top) / HV.rowH), hover = null;
      if (i >= 0 && i < T) hover = { side: x < HV.W / 2 ? "from" : "to", i: i };
      if (JSON.stringify(hover) !== JSON.stringify(S.hover)) { S.hover = hover; drawHead(); drawMatrix(); attReadout(); }
    });
    c.addEventListener("mouseleave", function () { S.hover = null; drawHead(); drawMatrix(); attReadout(); });
    // matrix view
    var mc = $("matrix-canvas");
    HV.cell = clamp(Math.floor(360 / T), 1, 22);
    HV.mLabels = HV.cell >= 12;
    probe.font = "11px " + MONO;
    HV.mMargin = 0;
    if (HV.mLabels) for (t = 0; t < T; t++) HV.mMargin = Math.max(HV.mMargin, probe.measureText(cut(piece(t), 12)).width + 8);
    HV.mMargin = Math.ceil(HV.mMargin);
    HV.mctx = sizeCanvas(mc, HV.mMargin + T * HV.cell, HV.mMargin + T * HV.cell);
    mc.addEventListener("mousemove", function (e) {
      var rect = mc.getBoundingClientRect();
      var i = Math.floor((e.clientY - rect.top - HV.mMargin) / HV.cell);
      var j = Math.floor((e.clientX - rect.left - HV.mMargin) / HV.cell);
      if (i < 0 || j < 0 || i >= T || j >= T) return;
      $("att-readout").textContent = "row " + tokenName(i) + " \u2192 column " + tokenName(j) + ": weight " +
        S.matrix[i * T + j].toFixed(3);
    });
    $("special-note").textContent = "[CLS] and [SEP] (grey, italic) are added by the tokenizer; many heads park their " +
      "weight on them, so hiding their lines shows the rest (the other weights are not rescaled). There is no padding: " +
      "the page shows one sequence, so every position is a real token and the attention mask is all ones.";
    buildModelGrid();
  }

  function buildModelGrid() {
    var grid = $("model-grid"), px = clamp(Math.floor(840 / A) - 6, 30, 58);
    grid.style.gridTemplateColumns = "auto repeat(" + A + ", " + (px + 4) + "px)";
    grid.appendChild(el("div", { cls: "lab", text: "" }));
    for (var h = 0; h < A; h++) grid.appendChild(el("div", { cls: "lab", text: "head " + (h + 1) }));
    HV.thumbs = [];
    for (var r = 0; r < R; r++) {
      grid.appendChild(el("div", { cls: "lab", text: D.runs.length === L ? "app. " + (r + 1) : (r + 1) + "" }));
      for (h = 0; h < A; h++) {
        var name = runLabel(r) + ", head " + (h + 1);
        var c = el("canvas", { title: name, role: "button", "aria-label": name });
        c.addEventListener("click", selectHead.bind(null, r, h));
        HV.thumbs.push(c);
        grid.appendChild(c);
      }
    }
    HV.thumbPx = px;
    drawThumbnails();
  }

  function drawThumbnails() {
    HV.thumbs.forEach(function (c, k) {
      var th = att.thumbnail(Math.floor(k / A), k % A), v = new Float32Array(th.values.length);
      for (var i = 0; i < v.length; i++) v[i] = level(th.values[i]);
      var ctx = sizeCanvas(c, HV.thumbPx, HV.thumbPx);
      ctx.imageSmoothingEnabled = th.size > HV.thumbPx;
      ctx.drawImage(heatImage(v, th.size, th.size, 0, 1), 0, 0, HV.thumbPx, HV.thumbPx);
    });
  }

  function selectHead(run, head) {
    S.run = clamp(run === null ? S.run : run, 0, R - 1);
    S.head = clamp(head === null ? S.head : head, 0, A - 1);
    S.matrix = att.matrix(S.run, S.head);
    $("run-select").value = String(S.run);
    Array.prototype.forEach.call($("head-buttons").children, function (b, h) {
      b.setAttribute("aria-pressed", String(h === S.head));
    });
    HV.thumbs.forEach(function (c, k) { c.classList.toggle("selected", k === S.run * A + S.head); });
    $("att-title").textContent = "Layer " + runLabel(S.run) + " of " + L + ", head " + (S.head + 1) + " of " + A;
    drawHead();
    drawMatrix();
    attReadout();
  }

  function drawHead() {
    var ctx = HV.ctx, hv = S.hover, kind = D.tokens.kind;
    ctx.clearRect(0, 0, HV.W, HV.H);
    ctx.font = "12px " + MONO;
    ctx.fillStyle = MUTED;
    ctx.textAlign = "right";
    ctx.fillText("from (query)", HV.x1 - 4, 14);
    ctx.textAlign = "left";
    ctx.fillText("to (key)", HV.x2 + 4, 14);
    function y(i) { return HV.top + (i + 0.5) * HV.rowH; }
    ctx.lineWidth = HV.rowH >= 16 ? 2 : 1.4;
    var strong = {};
    for (var i = 0; i < T; i++) {
      if (hv && hv.side === "from" && hv.i !== i) continue;
      if (S.hideSpecial && kind[i] === "special") continue;
      var row = att.row(S.run, S.head, i);
      for (var n = 0; n < row.idx.length; n++) {
        var j = row.idx[n], w = row.w[n];
        if (hv && hv.side === "to" && hv.i !== j) continue;
        if (S.hideSpecial && kind[j] === "special") continue;
        if (hv && w >= 0.1) strong[(hv.side === "from" ? "to" : "from") + (hv.side === "from" ? j : i)] = true;
        ctx.strokeStyle = "rgba(" + BLUE + "," + level(w).toFixed(3) + ")";
        ctx.beginPath();
        ctx.moveTo(HV.x1 + 4, y(i));
        ctx.lineTo(HV.x2 - 4, y(j));
        ctx.stroke();
      }
    }
    ctx.font = HV.font;
    ctx.textBaseline = "middle";
    for (var t = 0; t < T; t++) {
      ["from", "to"].forEach(function (side) {
        var x = side === "from" ? HV.x1 - 4 : HV.x2 + 4, on = hv && hv.side === side && hv.i === t;
        if (on) {
          ctx.fillStyle = "#d5ebf8";
          ctx.fillRect(side === "from" ? x - HV.labelW - 4 : x - 2, y(t) - HV.rowH / 2 + 1, HV.labelW + 6, HV.rowH - 2);
        }
        ctx.fillStyle = on || strong[side + t] ? VERMILLION : isSpecial(t) ? "#808080" : "#1b1b1b";
        ctx.font = (isSpecial(t) ? "italic " : "") + (on || strong[side + t] ? "bold " : "") + HV.font;
        ctx.textAlign = side === "from" ? "right" : "left";
        ctx.fillText(cut(piece(t), 16), x, y(t));
      });
    }
    ctx.textBaseline = "alphabetic";
  }

  function drawMatrix() {
    var ctx = HV.mctx, size = T * HV.cell, o = HV.mMargin, hv = S.hover, m = new Float32Array(T * T);
    for (var k = 0; k < m.length; k++) m[k] = level(S.matrix[k]);
    ctx.clearRect(0, 0, o + size, o + size);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(heatImage(m, T, T, 0, 1), o, o, size, size);
    if (HV.mLabels) {
      ctx.textBaseline = "middle";
      for (var t = 0; t < T; t++) {
        var on = hv && hv.i === t;
        ctx.font = (isSpecial(t) ? "italic " : "") + (on ? "bold " : "") + "11px " + MONO;
        ctx.fillStyle = on ? VERMILLION : isSpecial(t) ? "#808080" : "#1b1b1b";
        ctx.textAlign = "right";
        ctx.fillText(cut(piece(t), 12), o - 4, o + (t + 0.5) * HV.cell);
        ctx.save();
        ctx.translate(o + (t + 0.5) * HV.cell, o - 4);
        ctx.rotate(-Math.PI / 2);
        ctx.textAlign = "left";
        ctx.fillText(cut(piece(t), 12), 0, 0);
        ctx.restore();
      }
      ctx.textBaseline = "alphabetic";
    }
    if (hv) {
      ctx.strokeStyle = VERMILLION;
      ctx.lineWidth = 2;
      if (hv.side === "from") ctx.strokeRect(o, o + hv.i * HV.cell, size, HV.cell);
      else ctx.strokeRect(o + hv.i * HV.cell, o, HV.cell, size);
    }
    legendBar($("matrix-legend"), 0, 1, 0, S.scale === "sqrt" ? "weight (square-root scale)" : "weight");
  }

  function attReadout() {
    var hv = S.hover, out = $("att-readout");
    if (!hv) { out.textContent = "Hover a token in the head view, or a cell of the matrix."; return; }
    var pairs = [];
    for (var t = 0; t < T; t++) {
      var w = hv.side === "from" ? S.matrix[hv.i * T + t] : S.matrix[t * T + hv.i];
      if (w > 0) pairs.push([w, t]);
    }
    pairs.sort(function (a, b) { return b[0] - a[0]; });
    out.textContent = tokenName(hv.i) + (hv.side === "from" ? " attends most to: " : " is attended to most by: ") +
      pairs.slice(0, 4).map(function (p) { return piece(p[1]) + " " + p[0].toFixed(3); }).join("  \u00b7  ");
  }

  // ---------------------------------------------------------------- 3 the shared layer
  var LV = {};

  function buildLayers() {
    var c = $("layers-canvas"), probe = c.getContext("2d");
    LV.rowH = T <= 48 ? 18 : Math.max(3, Math.floor(720 / T));
    LV.labels = LV.rowH >= 11;
    LV.font = (LV.rowH >= 16 ? 12 : 10) + "px " + MONO;
    probe.font = LV.font;
    LV.labelW = 34;
    if (LV.labels) for (var t = 0; t < T; t++) LV.labelW = Math.max(LV.labelW, probe.measureText(cut(piece(t), 14)).width + 8);
    LV.labelW = Math.ceil(LV.labelW);
    LV.cellW = clamp(Math.floor(480 / L), 22, 48);
    LV.top = 22;
    LV.W = LV.labelW + L * LV.cellW + 2;
    LV.H = LV.top + T * LV.rowH + 2;
    LV.ctx = sizeCanvas(c, LV.W, LV.H);
    c.addEventListener("mousemove", function (e) {
      var rect = c.getBoundingClientRect(), x = e.clientX - rect.left - LV.labelW, y = e.clientY - rect.top - LV.top;
      var i = Math.floor(x / LV.cellW), t = Math.floor(y / LV.rowH);
      if (i < 0 || i >= L || t < 0 || t >= T) return;
      var ly = D.layers;
      $("layers-readout").textContent = tokenName(t) + ", application " + (i + 1) + ": \u2016h" + (i + 1) + " \u2212 h" + i +
        "\u2016 = " + ly.update_norm[i][t] + "  \u00b7  cos = " + ly.cosine[i][t] + "  \u00b7  \u2016h\u2016: " +
        ly.norm[i][t] + " \u2192 " + ly.norm[i + 1][t];
    });
    c.addEventListener("click", function (e) {
      var rect = c.getBoundingClientRect(), t = Math.floor((e.clientY - rect.top - LV.top) / LV.rowH);
      if (t >= 0 && t < T) selectToken(t);
    });
    Array.prototype.forEach.call(document.querySelectorAll('input[name="measure"]'), function (r) {
      r.addEventListener("change", function () { S.measure = r.value; drawLayers(); });
    });
  }

  function measureRange(values) {
    var lo = Infinity, hi = -Infinity;
    values.forEach(function (row) { row.forEach(function (v) { lo = Math.min(lo, v); hi = Math.max(hi, v); }); });
    if (S.measure === "update_norm") lo = 0;
    if (S.measure === "cosine") hi = 1;
    return [lo, hi];
  }

  function drawLayers() {
    var ctx = LV.ctx, values = D.layers[S.measure], range = measureRange(values);
    ctx.clearRect(0, 0, LV.W, LV.H);
    var flat = new Float32Array(T * L);
    for (var t = 0; t < T; t++) for (var i = 0; i < L; i++) flat[t * L + i] = values[i][t];
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(heatImage(flat, T, L, range[0], range[1]), LV.labelW, LV.top, L * LV.cellW, T * LV.rowH);
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 1;
    for (i = 1; i < L; i++) {
      ctx.beginPath();
      ctx.moveTo(LV.labelW + i * LV.cellW + 0.5, LV.top);
      ctx.lineTo(LV.labelW + i * LV.cellW + 0.5, LV.H);
      ctx.stroke();
    }
    ctx.font = "11px " + MONO;
    ctx.fillStyle = MUTED;
    ctx.textAlign = "center";
    var every = LV.cellW >= 22 ? 1 : 2;
    for (i = 0; i < L; i += every) ctx.fillText(String(i + 1), LV.labelW + (i + 0.5) * LV.cellW, 14);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    ctx.font = LV.font;
    if (LV.labels) {
      for (t = 0; t < T; t++) {
        ctx.fillStyle = t === S.token ? VERMILLION : isSpecial(t) ? "#808080" : "#1b1b1b";
        ctx.font = (isSpecial(t) ? "italic " : "") + (t === S.token ? "bold " : "") + LV.font;
        ctx.fillText(cut(piece(t), 14), LV.labelW - 6, LV.top + (t + 0.5) * LV.rowH);
      }
    }
    ctx.textBaseline = "alphabetic";
    ctx.strokeStyle = VERMILLION;
    ctx.lineWidth = 2;
    ctx.strokeRect(LV.labelW - 1, LV.top + S.token * LV.rowH, L * LV.cellW + 2, LV.rowH);
    legendBar($("layers-legend"), range[0], range[1], S.measure === "cosine" ? 3 : 2,
      S.measure === "cosine" ? "cos(h\u1d62, h\u1d62\u208b\u2081)" : "\u2016h\u1d62 \u2212 h\u1d62\u208b\u2081\u2016");
    drawLayersChart(values);
  }

  function drawLayersChart(values) {
    var W = 380, H = 230, left = 52, right = 12, top = 12, bottom = 34, ns = "http://www.w3.org/2000/svg";
    var mean = values.map(function (row) {
      var s = 0, n = 0;
      row.forEach(function (v, t) { if (!isSpecial(t)) { s += v; n += 1; } });
      return n ? s / n : NaN;
    });
    var mine = values.map(function (row) { return row[S.token]; });
    var all = mean.concat(mine).filter(isFinite), lo = Math.min.apply(null, all), hi = Math.max.apply(null, all);
    if (S.measure === "update_norm") lo = 0;
    if (hi - lo < 1e-9) { hi = lo + 1; }
    function X(i) { return left + (L === 1 ? 0.5 : i / (L - 1)) * (W - left - right); }
    function Y(v) { return top + (1 - (v - lo) / (hi - lo)) * (H - top - bottom); }
    function node(tag, attrs, text) {
      var e = document.createElementNS(ns, tag);
      Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
      if (text !== undefined) e.textContent = text;
      return e;
    }
    var svg = node("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, "font-family": "sans-serif", "font-size": "11" });
    svg.appendChild(node("line", { x1: left, y1: H - bottom, x2: W - right, y2: H - bottom, stroke: "#999" }));
    svg.appendChild(node("line", { x1: left, y1: top, x2: left, y2: H - bottom, stroke: "#999" }));
    [lo, (lo + hi) / 2, hi].forEach(function (v) {
      svg.appendChild(node("text", { x: left - 6, y: Y(v) + 4, "text-anchor": "end", fill: MUTED }, v.toPrecision(3)));
      svg.appendChild(node("line", { x1: left, y1: Y(v), x2: W - right, y2: Y(v), stroke: "#eee" }));
    });
    var every = Math.ceil(L / 12);
    for (var i = 0; i < L; i += every) {
      svg.appendChild(node("text", { x: X(i), y: H - bottom + 14, "text-anchor": "middle", fill: MUTED }, String(i + 1)));
    }
    svg.appendChild(node("text", { x: (left + W - right) / 2, y: H - 4, "text-anchor": "middle", fill: MUTED },
      "layer application"));
    [[mean, "#777777", "mean over the text's tokens"], [mine, VERMILLION, tokenName(S.token)]].forEach(function (s) {
      var pts = s[0].map(function (v, i) { return X(i) + "," + Y(v); }).join(" ");
      svg.appendChild(node("polyline", { points: pts, fill: "none", stroke: s[1], "stroke-width": 2.5 }));
      s[0].forEach(function (v, i) { svg.appendChild(node("circle", { cx: X(i), cy: Y(v), r: 3, fill: s[1] }, undefined)); });
    });
    var box = $("layers-chart");
    box.textContent = "";
    box.appendChild(svg);
  }

  // ---------------------------------------------------------------- 4 logit lens
  function buildLens() {
    $("lens-view").addEventListener("keydown", function (e) {
      if (e.target.tagName === "SELECT") return;
      var d = { ArrowLeft: -1, ArrowRight: 1 }[e.key];
      if (!d) return;
      e.preventDefault();
      selectToken(S.token + d);
    });
  }

  function drawLens() {
    var body = $("lens-body");
    body.textContent = "";
    if (!D.lens) { body.appendChild(el("p", { cls: "absent", text: D.lens_absent })); return; }
    var pick = el("div", { cls: "lens-pick" }), sel = el("select", { "aria-label": "token" });
    for (var t = 0; t < T; t++) sel.appendChild(el("option", { value: String(t), text: "#" + t + "  " + piece(t) }));
    sel.value = String(S.token);
    sel.addEventListener("change", function () { selectToken(+sel.value); });
    var prev = el("button", { type: "button", text: "\u25c0", "aria-label": "previous token" });
    var next = el("button", { type: "button", text: "\u25b6", "aria-label": "next token" });
    prev.addEventListener("click", function () { selectToken(S.token - 1); });
    next.addEventListener("click", function () { selectToken(S.token + 1); });
    pick.appendChild(el("span", { text: "Token" }));
    [prev, sel, next].forEach(function (e) { pick.appendChild(e); });
    body.appendChild(pick);
    var ids = D.lens.ids[S.token], probs = D.lens.probs[S.token], k = D.lens.k, final = ids[L][0];
    var inTop = -1, first = -1;
    for (var d = 0; d <= L; d++) {
      if (inTop < 0 && ids[d].indexOf(final) >= 0) inTop = d;
      if (first < 0 && ids[d][0] === final) first = d;
    }
    body.appendChild(el("p", { cls: "small", text: "The model's final guess at " + tokenName(S.token) + " is " + D.vocab[final] +
      " (outlined). It enters the top " + k + " at depth " + inTop + " and first ranks first at depth " + first +
      " (depth 0 is the embeddings, before any layer)." }));
    var table = el("table", { cls: "lens" }), head = el("tr", {}, [el("th", { text: "hidden state" })]);
    for (var n = 0; n < k; n++) head.appendChild(el("th", { text: n === 0 ? "top 1" : String(n + 1) }));
    table.appendChild(head);
    for (d = 0; d <= L; d++) {
      var tr = el("tr", { cls: d === L ? "last" : "" }, [el("td", { cls: "depth", text: d === 0 ? "0 \u00b7 embeddings" :
        d + " \u00b7 after application " + d + (d === L ? " (output)" : "") })]);
      for (n = 0; n < k; n++) {
        var p = probs[d][n];
        tr.appendChild(el("td", { cls: "cell" + (ids[d][n] === final ? " final" : ""), title: "id " + ids[d][n] }, [
          el("span", { cls: "bar", style: "width:" + (100 * p).toFixed(1) + "%" }),
          el("span", { cls: "w", text: D.vocab[ids[d][n]] }), el("span", { cls: "p", text: p.toFixed(4) })]));
      }
      table.appendChild(tr);
    }
    body.appendChild(table);
  }

  // ---------------------------------------------------------------- 5 predictions
  function drawPredictions() {
    var body = $("predictions-body");
    if (!D.predictions) { body.appendChild(el("p", { cls: "absent", text: D.predictions_absent })); return; }
    D.predictions.forEach(function (m) {
      var table = el("table", { cls: "preds" }, [el("caption", { text: D.mask_token + " at position " + m.position }),
        el("tr", {}, ["#", "token", "probability", "", "sequence"].map(function (h) { return el("th", { text: h }); }))]);
      m.fills.forEach(function (f, r) {
        table.appendChild(el("tr", {}, [el("td", { text: String(r + 1) }), el("td", { cls: "tok", text: f.token_str }),
          el("td", { cls: "score", text: f.score.toFixed(4) }),
          el("td", { cls: "barcell" }, [el("div", { cls: "pbar", style: "width:" + (100 * f.score).toFixed(1) + "%" })]),
          el("td", { text: f.sequence })]));
      });
      body.appendChild(table);
    });
  }

  // ---------------------------------------------------------------- footer
  function buildFooter() {
    var f = $("footer"), list = el("ul");
    f.appendChild(el("h2", { text: "About the numbers" }));
    Object.keys(D.precision).forEach(function (k) { list.appendChild(el("li", { text: D.precision[k] })); });
    list.appendChild(el("li", { text: "Every number comes from one forward pass of the library (model.albert_model " +
      "with output_attentions and output_hidden_states)" + (D.model.has_mlm_head ? " and the model's own masked-LM head; " +
      "nothing is recomputed another way." : ".") }));
    list.appendChild(el("li", { text: "This file is self-contained: it loads nothing from the network. Made by " +
      D.library + " (python -m albert_np explain)." }));
    f.appendChild(list);
  }

  // ---------------------------------------------------------------- start
  function init() {
    D = JSON.parse($("albert-np-data").textContent);
    T = D.tokens.ids.length; A = D.heads; R = D.runs.length; L = D.applications;
    att = makeAttention(D.attention);
    var firstMask = D.tokens.kind.indexOf("mask"), firstText = D.tokens.kind.indexOf("text");
    S.token = firstMask >= 0 ? firstMask : firstText >= 0 ? firstText : 0;
    $("static-preview").hidden = true;
    $("app").hidden = false;
    buildHeader();
    buildTokens();
    buildAttention();
    buildLayers();
    buildLens();
    buildFooter();
    drawPredictions();
    selectHead(0, 0);
    selectToken(S.token);
    document.body.setAttribute("data-ready", "1");
    window.albertExplain = { state: S, data: D, selectHead: selectHead, selectToken: selectToken };
  }

  try {
    init();
  } catch (e) {
    var box = $("error-box");
    box.hidden = false;
    box.textContent = "This page could not draw its views (" + e + "). Please report it with the file.";
    throw e;
  }
})();
