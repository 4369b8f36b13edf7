"""Make the screenshots of docs/playground.md: python docs/images/playground/capture.py

Drives the real page in Chromium (Playwright) on a local playground, then crops and quantizes the
PNGs (Pillow) so each stays small. Needs /usr/bin/chromium, playwright and Pillow (matplotlib's).
"""

import io
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

from nnbasics.playground import serve

OUT = Path(__file__).resolve().parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]


def wait(pg, expr, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        if pg.evaluate(expr):
            return
        time.sleep(0.1)
    raise TimeoutError(expr)


def box(pg, *selectors, pad=6):
    boxes = [pg.locator(s).bounding_box() for s in selectors]
    x0, y0 = min(b["x"] for b in boxes) - pad, min(b["y"] for b in boxes) - pad
    x1, y1 = max(b["x"] + b["width"] for b in boxes) + pad, max(b["y"] + b["height"] for b in boxes) + pad
    return (max(0, int(x0)), max(0, int(y0)), int(x1), int(y1))


def save(png, name, crop=None, width=None, colors=96):
    img = Image.open(io.BytesIO(png)).convert("RGB")
    if crop:
        img = img.crop(crop)
    if width and img.width > width:
        img = img.resize((width, round(img.height * width / img.width)), Image.LANCZOS)
    img.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(OUT / name, optimize=True)
    print(name, img.size, (OUT / name).stat().st_size // 1024, "KB")


def run_preset(pg, name, steps):
    pg.select_option("#preset", name)
    wait(pg, f"window.playground.state.frame.preset && window.playground.step >= {steps}")
    pg.click("#play")
    wait(pg, "window.playground.state.frame.playing === false")
    time.sleep(0.5)


def main():
    server = serve({"dataset": "spiral", "speed": 10})
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        pg = browser.new_page(viewport={"width": 1360, "height": 900})
        pg.goto(server.url)
        wait(pg, "window.playground && window.playground.frames > 0")
        pg.click("#play")
        wait(pg, "window.playground.step >= 800")
        pg.click("#play")
        time.sleep(0.5)
        save(pg.screenshot(), "overview.png", width=1200)

        run_preset(pg, "deep-sigmoid", 600)
        shot = pg.screenshot(full_page=True)
        save(shot, "sigmoid-vs-relu.png", box(pg, "#preset-banner", "#output-panel", "#curves-panel"), width=1100)
        save(shot, "sigmoid-vs-relu-layers.png", box(pg, "#diag-panel"), width=1100)

        run_preset(pg, "init-deep-relu", 300)
        shot = pg.screenshot(full_page=True)
        save(shot, "normal-vs-he.png", box(pg, "#findings", "#nan-box", "#diag-a"), width=1000)

        pg.select_option("#preset", "")
        pg.click("#compare")
        wait(pg, "window.playground.state.frame.compare === false")
        pg.select_option("#dataset", "fashion-mnist")
        wait(pg, "window.playground.state.frame.configs.a.dataset === 'fashion-mnist'")
        pg.select_option("#init", "he")
        pg.select_option("#optimizer", "adam")
        wait(pg, "window.playground.state.frame.configs.a.init === 'he' && "
                 "window.playground.state.frame.configs.a.optimizer === 'adam'")
        pg.click("#play")
        wait(pg, "window.playground.step >= 600")
        pg.click("#play")
        time.sleep(0.8)
        shot = pg.screenshot(full_page=True)
        save(shot, "images.png", box(pg, "#output-panel", "#curves-panel"), width=1000)

        bad = b"x1,x2,label\n" + b"".join(b"%d,%d,%d\n" % (i, i % 3, i % 2) for i in range(20))
        pg.set_input_files("#upload", files=[{"name": "measurements.csv", "mimeType": "text/csv",
                                              "buffer": bad.replace(b"\n7,1,1\n", b"\n7,n/a,1\n")}])
        wait(pg, "!document.getElementById('error').hidden")
        save(pg.screenshot(), "csv-error.png", box(pg, "header", "#error", "#data-panel"), width=1000)
        browser.close()
    server.close()


if __name__ == "__main__":
    main()
