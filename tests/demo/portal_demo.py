# SPDX-License-Identifier: GPL-2.0-or-later
"""The demo's employee flow in a real headless Chromium against a real
wgotp-portal (tests/demo/demo.sh step 10): the email screen, the mailed
code, the status page with the session's badge. One line per screen,
"[ok] what (N ms) -> screenshot"; exit status 0 when every screen came.
Environment: DEMO_URL, DEMO_EMAIL, DEMO_SPKI (the certificate's key, the
only one let through), DEMO_SMTPD_DIR, DEMO_SHOTS, DEMO_PROFILE."""
import email
import email.policy
import glob
import os
import re
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

E = os.environ
T0 = time.time()


def say(ok, what, shot=None):
    ms = int((time.time() - T0) * 1000)
    print("   %s %s (%d ms)%s" % ("[ok]" if ok else "[FAILED]", what, ms,
                                  " -> " + shot if shot else ""))
    sys.stdout.flush()
    if not ok:
        sys.exit(1)


def screen(drv, sid):
    try:
        WebDriverWait(drv, 15).until(EC.visibility_of_element_located((By.ID, sid)))
        return True
    except Exception:
        return False


def shot(drv, name):
    path = os.path.join(E["DEMO_SHOTS"], name + ".png")
    drv.save_screenshot(path)
    return path


def new_code(before, secs=15):
    end = time.time() + secs
    while time.time() < end:
        msgs = sorted(glob.glob(os.path.join(E["DEMO_SMTPD_DIR"], "msg-*.eml")),
                      key=lambda p: int(re.search(r"msg-(\d+)", p).group(1)))
        if len(msgs) > before:
            with open(msgs[-1], "rb") as f:
                m = email.message_from_binary_file(f, policy=email.policy.default)
            codes = re.findall(r"(?<![0-9])[0-9]{6}(?![0-9])", m.get_body(("plain",)).get_content())
            return codes[0] if codes else None
        time.sleep(0.1)
    return None


def main():
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--no-first-run", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--hide-scrollbars", "--force-device-scale-factor=1",
              "--user-data-dir=" + E["DEMO_PROFILE"], "--window-size=800,600",
              "--ignore-certificate-errors-spki-list=" + E["DEMO_SPKI"]):
        o.add_argument(a)
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    try:
        drv.set_window_size(800, 600)
        before = len(glob.glob(os.path.join(E["DEMO_SMTPD_DIR"], "msg-*.eml")))
        drv.get(E["DEMO_URL"] + "/")
        say(screen(drv, "screen-email"), "screen 1: the employee's work email", shot(drv, "1-email"))
        f = drv.find_element(By.ID, "email")
        f.send_keys(E["DEMO_EMAIL"])
        f.send_keys(Keys.ENTER)
        say(screen(drv, "screen-code"), "screen 2: the code, mailed; the session length",
            shot(drv, "2-code"))
        code = new_code(before)
        say(code is not None, "the code arrived in the inbox: %s" % code)
        c = drv.find_element(By.ID, "code")
        c.send_keys(code)
        c.send_keys(Keys.ENTER)
        ok = screen(drv, "screen-status")
        badge = drv.find_element(By.CSS_SELECTOR, ".badge").text if ok else ""
        say(ok and badge.startswith("Active"), "the status page: %s" % badge, shot(drv, "3-status"))
    finally:
        drv.quit()


if __name__ == "__main__":
    main()
