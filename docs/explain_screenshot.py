"""Make docs/explain.png, the README's picture of `albert_np explain`, with headless Chromium.

    python docs/explain_screenshot.py [--out docs/explain.png] [--width 1100] [--height 0]

The page of "The capital of France is [MASK]." on the bundled model, as a browser shows it: the
layer application and head chosen below are opened by clicking their thumbnail, the mouse rests on
[MASK] in the head view (so only its attention shows). --height 0 (the default) takes the whole
page. Needs Chromium, chromedriver and selenium (pip install -e .[test]).
"""
import argparse
import os
import shutil
import tempfile

import albert_np

TEXT = "The capital of France is [MASK]."
APPLICATION, HEAD = 6, 1                     # the head opened in the picture (1-based)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "explain.png"))
    parser.add_argument("--width", type=int, default=1100)
    parser.add_argument("--height", type=int, default=0, help="pixels from the top (0: the whole page)")
    args = parser.parse_args()
    os.environ.setdefault("SE_AVOID_STATS", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    page = albert_np.explain(TEXT)
    with tempfile.TemporaryDirectory() as tmp:
        path = page.save(os.path.join(tmp, "capital.html"))
        options = webdriver.ChromeOptions()
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--force-device-scale-factor=1", f"--window-size={args.width},1000"):
            options.add_argument(arg)
        options.binary_location = shutil.which("chromium") or shutil.which("google-chrome")
        driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
        try:
            driver.get("file://" + path)
            A = page.data["heads"]
            driver.find_elements(By.CSS_SELECTOR, "#model-grid canvas")[(APPLICATION - 1) * A + HEAD - 1].click()
            height = args.height or driver.execute_script("return document.documentElement.scrollHeight")
            chrome = driver.execute_script("return window.outerHeight - window.innerHeight")   # the window's frame
            driver.set_window_size(args.width, height + chrome)
            driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0);")
            canvas = driver.find_element(By.ID, "head-canvas")
            mask = page.data["tokens"]["kind"].index("mask")
            w, h = canvas.size["width"], canvas.size["height"]
            ActionChains(driver).move_to_element_with_offset(canvas, -int(0.3 * w),
                                                             int(26 + (mask + 0.5) * 20 - h / 2)).perform()
            driver.save_screenshot(args.out)
        finally:
            driver.quit()
    print(f"{args.out}: {os.path.getsize(args.out):,} bytes")


if __name__ == "__main__":
    main()
