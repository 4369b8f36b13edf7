"""Playground: updates per second the page receives, steps per second and CPU used, while training.

Starts a real playground server (``nnbasics.playground.serve``), plays a setup for ``--seconds``
and counts the frames a server-sent-events client receives (the page's updates), the training
steps taken, the CPU time of this process (server, worker, SSE encoding) as cores, and what the
rest of the machine used meanwhile (``/proc/stat`` minus this process; the machine is shared).
With ``--browser`` the client is the real page in Chromium (Playwright): the frames it drew, and
Chromium's CPU too.

Setups: ``spiral`` (2-8-8-2 tanh net, 2-class spiral of 400 points, Adam, batch 16) and
``images`` (784-128-10 ReLU MLP on 2,000 Fashion-MNIST training images, 667 test; the generated
16x16 shapes when the files are absent), each at a few speeds (steps per update).

Usage::

    python bench/playground.py                      # both setups, speeds 1 5 20 100, 8 s each, SSE client
    python bench/playground.py --browser --speeds 5 # the page in Chromium draws the frames
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import threading
import time

SETUPS = {
    "spiral": {"dataset": "spiral", "classes": 2, "n": 400, "layers": [{"units": 8, "activation": "tanh"}] * 2,
               "optimizer": "adam", "lr": 0.03, "batch_size": 16},
    "images": {"dataset": "fashion-mnist", "n": 2000, "test_fraction": 0.25,
               "layers": [{"units": 128, "activation": "relu"}], "optimizer": "adam", "lr": 0.003,
               "batch_size": 32},
}


def cpu_jiffies():
    """(busy jiffies of the whole machine, clock ticks per second)."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts[:8]) - idle, os.sysconf("SC_CLK_TCK")


def process_cpu(pids):
    """CPU seconds used so far by the given processes (and their threads)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError):
            pass
    return total


def sse_client(server, stop, counter):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", f"/events?token={server.token}", headers={"Host": f"127.0.0.1:{server.port}"})
    res = conn.getresponse()
    while not stop.is_set():
        line = res.fp.readline()
        if not line:
            break
        if line.startswith(b"data: "):
            counter.append(len(line))
    conn.close()


def descendants(root):
    """PIDs of every process below ``root`` (Playwright's driver and the Chromium it started), from /proc."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return out


def measure(name, cfg, speed, seconds, browser=None):
    from nnbasics.playground import serve

    server = serve({**cfg, "speed": speed})
    session = server.session
    frames, stop = [], threading.Event()
    page = None
    if browser is None:
        t = threading.Thread(target=sse_client, args=(server, stop, frames), daemon=True)
        t.start()
    else:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server.url)
        while not page.evaluate("window.playground && window.playground.frames > 0"):
            time.sleep(0.05)
    time.sleep(1.0)
    session.play()
    time.sleep(1.0)  # warm up
    pids = [os.getpid()] + (descendants(os.getpid()) if browser is not None else [])
    step0, busy0, own0 = session.runs["a"].step, cpu_jiffies()[0], process_cpu([os.getpid()])
    all0 = process_cpu(pids)
    n0 = len(frames) if page is None else page.evaluate("window.playground.frames")
    t0 = time.perf_counter()
    time.sleep(seconds)
    wall = time.perf_counter() - t0
    n1 = len(frames) if page is None else page.evaluate("window.playground.frames")
    step1, (busy1, tick), own1, all1 = session.runs["a"].step, cpu_jiffies(), process_cpu([os.getpid()]), process_cpu(pids)
    load = os.getloadavg()[0]
    stop.set()
    if page is not None:
        page.close()
    server.close()
    machine = (busy1 - busy0) / tick / wall
    return {"setup": name, "data": session.data.note, "speed": speed, "updates_per_s": (n1 - n0) / wall,
            "steps_per_s": (step1 - step0) / wall, "server_cores": (own1 - own0) / wall,
            "with_browser_cores": (all1 - all0) / wall if browser is not None else None,
            "other_cores": max(0.0, machine - (all1 - all0) / wall), "load1": load,
            "frame_kb": (sum(frames[-50:]) / max(1, len(frames[-50:]))) / 1024 if frames else None}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setups", nargs="+", default=list(SETUPS), choices=list(SETUPS))
    p.add_argument("--speeds", nargs="+", type=int, default=[1, 5, 20, 100])
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--browser", action="store_true", help="the page in Chromium is the client")
    p.add_argument("--json", help="also write the rows to this file")
    args = p.parse_args()
    from nnbasics.playground.datasets import available_image_sets

    setups = dict(SETUPS)
    if "fashion-mnist" not in available_image_sets():
        setups["images"] = {**setups["images"], "dataset": "shapes"}
    rows = []
    ctx = None
    browser = None
    if args.browser:
        from playwright.sync_api import sync_playwright

        ctx = sync_playwright().start()
        browser = ctx.chromium.launch(executable_path="/usr/bin/chromium",
                                      args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                            "--disable-component-update", "--disable-sync"])
    try:
        for name in args.setups:
            for speed in args.speeds:
                row = measure(name, setups[name], speed, args.seconds, browser)
                rows.append(row)
                print(f"{name:7s} speed {speed:4d}: {row['updates_per_s']:5.1f} updates/s, {row['steps_per_s']:7.0f} "
                      f"steps/s, server {row['server_cores']:.2f} cores"
                      + (f", server+chromium {row['with_browser_cores']:.2f}" if args.browser else "")
                      + f", others {row['other_cores']:.2f} cores, load {row['load1']:.1f}"
                      + (f", {row['frame_kb']:.0f} KB/frame" if row["frame_kb"] else ""), flush=True)
    finally:
        if browser is not None:
            browser.close()
            ctx.stop()
    print(f"data: {', '.join(sorted({r['data'] for r in rows}))}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
