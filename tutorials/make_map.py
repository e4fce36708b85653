"""The map of the tutorials: ALBERT's forward pass, top to bottom, with a checkpoint's sizes.

    python tutorials/make_map.py      # writes tutorials/map.png from the bundled model

Chapter 00 imports `draw_map` and draws the same picture from the config of the
checkpoint it runs on; tutorials/README.md shows the committed map.png. The
picture is boxes and arrows only (matplotlib), so it needs no image files.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# fill colours of the boxes, by kind of step
INPUT, EMBED, LAYER, OUTPUT, HEAD = "#eeeeee", "#cfe2f3", "#fce5cd", "#d9ead3", "#e6d7f0"


def _box(ax, x, y, w, h, text, colour, size=9, weight="normal"):
    """A rounded box centred at (x, y), w wide and h high, with centred text."""
    from matplotlib.patches import FancyBboxPatch
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.15",
                                facecolor=colour, edgecolor="#444444", linewidth=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=size, fontweight=weight, linespacing=1.35)


def _arrow(ax, start, end, text=None, style="-|>", **kw):
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle=style, color="#333333", lw=1.2, **kw))
    if text:
        ax.text((start[0] + end[0]) / 2 + 0.12, (start[1] + end[1]) / 2, text, ha="left", va="center",
                fontsize=8, color="#333333")


def draw_map(config):
    """A matplotlib figure of the forward pass with the shapes of `config` (an AlbertConfig).

    B (batch) and T (tokens per row) are left as letters: they are chosen by the input, not the config."""
    import matplotlib.pyplot as plt

    V, E, H = config.vocab_size, config.embedding_size, config.hidden_size
    L, G, A, F = (config.num_hidden_layers, config.num_hidden_groups, config.num_attention_heads,
                  config.intermediate_size)
    P, S, D = config.max_position_embeddings, config.type_vocab_size, config.hidden_size // config.num_attention_heads
    labels = getattr(config, "num_labels", 2)
    act = config.hidden_act

    fig, ax = plt.subplots(figsize=(10, 12.5))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 16.6)
    ax.axis("off")
    ax.set_title(f"The ALBERT forward pass, with this checkpoint's sizes (B rows of T tokens)\n"
                 f"V={V} E={E} H={H} L={L} G={G} A={A} D={D} F={F} P={P} S={S}", fontsize=11)

    _box(ax, 5, 15.9, 6.6, 0.7, f"input_ids, token_type_ids   (B, T)   integers: ids < V = {V:,}, types < S = {S}",
         INPUT)
    _box(ax, 5, 14.55, 7.6, 1.1, f"embeddings: look up three tables and add them\n"
         f"word (V×E = {V:,}×{E}) + position (P×E = {P}×{E}) + type (S×E = {S}×{E})   → (B, T, E = {E})",
         EMBED)
    _box(ax, 5, 13.3, 4.6, 0.6, f"LayerNorm over E   → (B, T, E = {E})", EMBED)
    _box(ax, 5, 12.15, 6.6, 0.8, f"embedding_hidden_mapping_in: linear E → H (the factorised embedding)\n"
         f"(B, T, E = {E})  → (B, T, H = {H})", EMBED)
    for top, bottom in [(15.55, 15.1), (14.0, 13.6), (13.0, 12.55)]:
        _arrow(ax, (5, top), (5, bottom))

    # the shared layer, applied L times
    if G == 1:
        title = f"the ONE shared layer (one set of weights), applied L = {L} times"
    else:
        title = f"{G} layer weight sets (groups), applied L = {L} times in all"
    if config.inner_group_num > 1:
        title += f"; {config.inner_group_num} layers per group"
    from matplotlib.patches import FancyBboxPatch
    ax.add_patch(FancyBboxPatch((0.6, 7.0), 8.8, 4.2, boxstyle="round,pad=0.02,rounding_size=0.2",
                                facecolor="#fff8ef", edgecolor="#b45f06", linewidth=1.6, linestyle="--"))
    ax.text(5, 10.85, title, ha="center", va="center", fontsize=10, fontweight="bold", color="#783f04", zorder=5,
            bbox=dict(facecolor="#fff8ef", edgecolor="none", pad=2))
    _box(ax, 4.3, 9.75, 6.6, 1.15, f"attention: A = {A} heads of D = H/A = {D}; query, key, value, dense (H×H each)\n"
         f"scores (B, A, T, T), softmax over keys; out (B, T, H = {H})\n"
         f"x = LayerNorm(x + attention(x))   (residual, then post-LN)", LAYER)
    _box(ax, 4.3, 7.95, 6.6, 1.15, f"feed-forward: linear H → F = {F}, {act}, linear F → H\n"
         f"(B, T, H) → (B, T, F = {F}) → (B, T, H = {H})\n"
         f"x = LayerNorm(x + FFN(x))   (residual, then post-LN)", LAYER)
    _arrow(ax, (4.3, 11.75), (4.3, 10.35))
    _arrow(ax, (4.3, 9.17), (4.3, 8.53))
    _arrow(ax, (7.65, 7.95), (7.65, 9.75), connectionstyle="arc3,rad=0.7")
    ax.text(8.75, 8.85, f"× L = {L}\nsame\nweights", ha="center", va="center", fontsize=9, color="#783f04",
            fontweight="bold")

    _box(ax, 5, 6.2, 5.6, 0.7, f"last_hidden_state   (B, T, H = {H})", OUTPUT, weight="bold")
    _arrow(ax, (4.3, 7.37), (5, 6.55))

    # the heads, side by side
    columns = [1.35, 3.8, 6.25, 8.7]
    for x in columns:
        _arrow(ax, (5, 5.85), (x, 4.75))
    _box(ax, columns[0], 3.55, 2.3, 2.3, f"masked-LM head\nlinear H → E, {act},\nLayerNorm; decoder:\n"
         f"the word table (tied),\nE → V\n→ (B, T, V = {V:,})", HEAD, size=8)
    _box(ax, columns[1], 4.05, 2.3, 1.3, f"pooler\ntanh(linear H → H)\nof the first token [CLS]\n→ (B, H = {H})",
         HEAD, size=8)
    _arrow(ax, (columns[1], 3.4), (columns[1], 2.65))
    _box(ax, columns[1], 2.05, 2.3, 1.2, f"sentence order (SOP)\n→ (B, 2)\nclassifier\n→ (B, labels = {labels})",
         HEAD, size=8)
    _box(ax, columns[2], 3.55, 2.3, 2.3, "question answering\nlinear H → 2\nstart and end logits\n→ (B, T) each",
         HEAD, size=8)
    _box(ax, columns[3], 3.55, 2.3, 2.3, f"token classification\nlinear H → labels\n"
         f"→ (B, T, labels = {labels})", HEAD, size=8)
    ax.text(5, 0.75, "Every head gives logits: scores before a softmax. The forward pass is in albert_np/model.py; "
            "chapters 02–06 take it apart step by step.", ha="center", va="center", fontsize=8, color="#333333")
    fig.tight_layout()
    return fig


def main():
    import matplotlib
    matplotlib.use("Agg")
    from albert_np import AlbertConfig
    from albert_np.pretrained import bundled_model

    fig = draw_map(AlbertConfig.from_pretrained(bundled_model()))
    path = os.path.join(HERE, "map.png")
    fig.savefig(path, dpi=80, metadata={"Software": None})
    print("wrote", os.path.relpath(path))


if __name__ == "__main__":
    main()
