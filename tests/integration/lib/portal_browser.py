# SPDX-License-Identifier: GPL-2.0-or-later
"""The employee's flow in a real headless Chromium, against a real
wgotp-portal, wg-activator and wireguard-go (tests/integration/portal_browser.sh
sets them up and passes everything in the environment). Prints TAP lines
numbered from TAP_START and writes "N FAILED" to $PB_COUNT at the end.
Screenshots of each screen go to $PB_ARTIFACTS."""
import glob
import os
import re
import signal
import subprocess
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

E = os.environ
URL = E["PB_URL"]
ART = E["PB_ARTIFACTS"]
SMTPD = E["PB_SMTPD_DIR"]
N = int(E.get("TAP_START", "0"))
FAILED = 0


def ok(cond, desc, extra=""):
    global N, FAILED
    N += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (N, desc))
    if not cond:
        FAILED += 1
        if extra:
            for line in str(extra).splitlines():
                print("#   " + line)
    sys.stdout.flush()
    return cond


def diag(msg):
    print("# " + msg)
    sys.stdout.flush()


def sh(*args):
    return subprocess.run(args, capture_output=True, text=True)


def has_peer(key):
    return key in sh("wg", "show", E["WG_IF_SRV"], "peers").stdout.split()


def ping_once():
    return sh("ip", "netns", "exec", E["WG_NS_CLI"], "ping", "-c", "1", "-W", "1", "-q",
              E["WG_SRV_IP"]).returncode == 0


def ping_wait(secs):
    end = time.time() + secs
    while time.time() < end:
        if ping_once():
            return True
    return False


def mails():
    return sorted(glob.glob(os.path.join(SMTPD, "msg-*.eml")),
                  key=lambda p: int(re.search(r"msg-(\d+)", p).group(1)))


def wait_mail(n, secs=10):
    end = time.time() + secs
    while time.time() < end:
        m = mails()
        if len(m) >= n:
            return m[n - 1]
        time.sleep(0.1)
    return None


def mail_code(path):
    import email
    import email.policy
    with open(path, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain",)).get_content()
    codes = re.findall(r"(?<![0-9])[0-9]{6}(?![0-9])", body)
    return codes[0] if len(codes) == 1 else None


def shot(drv, name):
    path = os.path.join(ART, name + ".png")
    # save_screenshot answers False instead of raising when Chromium is
    # slow to hand the image over: try again once, then fail the step.
    if not drv.save_screenshot(path):
        time.sleep(0.5)
        if not drv.save_screenshot(path):
            raise RuntimeError("no screenshot " + path)
    diag("screenshot " + path)


def visible(drv, sel):
    return drv.find_element(By.CSS_SELECTOR, sel).is_displayed()


def wait_screen(drv, sid, secs=15):
    try:
        WebDriverWait(drv, secs).until(EC.visibility_of_element_located((By.ID, sid)))
        return True
    except Exception:
        return False


def badge(drv, device):
    return drv.find_element(By.CSS_SELECTOR, '.device[data-name="%s"] .badge' % device).text


def csp_errors(drv):
    try:
        logs = drv.get_log("browser")
    except Exception:
        return []
    # a 401 for a wrong code is the API speaking, not an error of the page
    return [l["message"] for l in logs if "Content Security Policy" in l["message"] or
            (l["level"] == "SEVERE" and "Failed to load resource" not in l["message"])]


def expires(drv, device):
    """The session's deadline as the API gives it to the page."""
    return drv.execute_async_script("""
        var done = arguments[arguments.length - 1];
        fetch('/api/v1/status', {credentials: 'same-origin'}).then(r => r.json()).then(j => {
            var d = (j.devices || []).filter(x => x.name === arguments[0])[0];
            done(d && d.expires ? d.expires : 0);
        }).catch(() => done(-1));""", device)


def browser():
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--no-first-run", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--user-data-dir=" + E["PB_PROFILE"], "--window-size=420,860",
              # the test CA's server certificate, pinned by its key (nothing else is let through)
              "--ignore-certificate-errors-spki-list=" + E["PB_SPKI"]):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


def login(drv, email, screenshot=None):
    drv.get(URL + "/")
    if not wait_screen(drv, "screen-email"):
        return False
    if screenshot:
        shot(drv, screenshot)
    f = drv.find_element(By.ID, "email")
    f.clear()
    f.send_keys(email)
    f.send_keys(Keys.ENTER)			# the keyboard alone
    return wait_screen(drv, "screen-code")


def type_code(drv, code, duration="3600"):
    Select(drv.find_element(By.ID, "duration")).select_by_value(duration)
    c = drv.find_element(By.ID, "code")
    c.clear()
    c.send_keys(code)
    c.send_keys(Keys.ENTER)


def enrol(drv):
    link = E["PB_LINK"]
    drv.get(link)
    ok(wait_screen(drv, "screen-enrol"), "the invitation link: the enrolment screen")
    ok(drv.current_url == URL + "/enrol", "the token is dropped from the address bar (%s)" % drv.current_url)
    WebDriverWait(drv, 10).until(lambda d: d.execute_script(
        "var i = document.getElementById('enrol-qr'); return i.complete && i.naturalWidth > 0;"))
    shot(drv, "13-enrol-qr")
    qr = sh("zbarimg", "-q", "--raw", os.path.join(ART, "13-enrol-qr.png")).stdout.strip()
    ok(qr.startswith("otpauth://totp/") and "dave%40example.com" in qr,
       "zbarimg reads the QR code on the page: an otpauth URI for dave", qr[:30])
    m = re.search(r"[?&]secret=([A-Z2-7]+)", qr)
    secret = m.group(1) if m else ""
    shown = drv.find_element(By.ID, "enrol-secret").text.replace(" ", "")
    ok(secret and shown == secret, "the secret as text is the QR code's")
    with open(E["PB_USERS"]) as f:
        dave = __import__("json").load(f)["users"]["dave@example.com"]
    ok(dave.get("totp_state") == "pending", "users.json: pending until a right code")
    c = drv.find_element(By.ID, "enrol-code")
    c.send_keys("000000" if sh("oathtool", "--totp", "-b", secret).stdout.strip() != "000000" else "111111")
    c.send_keys(Keys.ENTER)
    WebDriverWait(drv, 10).until(EC.visibility_of_element_located((By.ID, "message")))
    ok("not right" in drv.find_element(By.ID, "message").text, "a wrong code: refused, still pending")
    code = sh("oathtool", "--totp", "-b", secret).stdout.strip()
    c = drv.find_element(By.ID, "enrol-code")
    c.clear()
    c.send_keys(code)
    c.send_keys(Keys.ENTER)
    ok(wait_screen(drv, "screen-enrolled"), "oathtool's code: the app is set up")
    shot(drv, "14-enrolled")
    with open(E["PB_USERS"]) as f:
        dave = __import__("json").load(f)["users"]["dave@example.com"]
    ok(dave.get("totp_state") == "active" and "invite" not in dave, "users.json: active, the invitation gone")
    # the same link again: the neutral page
    drv.get(link)
    ok(wait_screen(drv, "screen-invalid"), "the used link: the neutral page")
    used_text = drv.find_element(By.ID, "screen-invalid").text
    shot(drv, "15-link-used")
    # sign in with the app: the next time step's code (the window allows
    # it), as the enrolment's code cannot be used twice
    time.sleep(1.2)   # the portal's copy of users.json is re-read once a second
    drv.delete_all_cookies()		# mallory's pending sign-in, above
    ok(login(drv, "dave@example.com"), "dave: the code screen")
    type_code(drv, sh("oathtool", "--totp", "-b", "-N", "@%d" % (int(time.time()) + 30), secret).stdout.strip())
    ok(wait_screen(drv, "screen-status"), "dave signs in with the enrolled app")
    ok(has_peer(E["PB_DAVE_PUB"]), "dave's peer is on the interface")
    shot(drv, "16-status-enrolled")
    drv.find_element(By.ID, "logout").click()
    wait_screen(drv, "screen-email")
    # an expired link: the same neutral page
    sh(E["PB_CTL"], "-c", E["PB_CONF"], "totp", "reset", "--force", "dave@example.com")
    link2 = sh(E["PB_CTL"], "-c", E["PB_CONF"], "invite", "dave@example.com", "--print").stdout.strip()
    with open(E["PB_USERS"]) as f:
        d = __import__("json").load(f)
    d["users"]["dave@example.com"]["invite"]["expires"] = int(time.time()) - 1
    with open(E["PB_USERS"] + ".tmp", "w") as f:
        __import__("json").dump(d, f)
    os.chmod(E["PB_USERS"] + ".tmp", 0o640)
    os.rename(E["PB_USERS"] + ".tmp", E["PB_USERS"])
    drv.get(link2)
    ok(wait_screen(drv, "screen-invalid"), "an expired link: the neutral page")
    ok(drv.find_element(By.ID, "screen-invalid").text == used_text, "... the same words as a used one")


def main():
    drv = browser()
    alice_key, tina_key = E["WG_CLI_PUB"], E["PB_TINA_PUB"]
    try:
        # --- an email user: the two screens, the tunnel -------------------
        ok(login(drv, "alice@example.com", "01-email"), "alice: the email screen, then the code screen")
        ok(drv.find_element(By.ID, "company").text == "Example Corp", "the company name from the config")
        shot(drv, "02-code-email")
        prompt_alice = drv.find_element(By.ID, "prompt").text
        ok(re.match(r"Enter the code sent to a\*+e@example\.com", prompt_alice), "prompt: the masked address",
           prompt_alice)
        ok(not drv.find_elements(By.CSS_SELECTOR, ".device"), "no device is shown before the code")
        m1 = wait_mail(1)
        code = mail_code(m1) if m1 else None
        ok(code is not None, "the code arrived at the SMTP server")
        ok(not has_peer(alice_key), "no peer before the code")
        type_code(drv, code or "000000")
        ok(wait_screen(drv, "screen-status"), "the right code: the status page")
        b = badge(drv, "laptop")
        ok(re.match(r"^Active, (1 h 0 min|59 min) left, until \d\d:\d\d$", b), "badge: " + b, b)
        shot(drv, "03-status-active")
        ok(has_peer(alice_key), "the peer is on the server's interface")
        ok(ping_wait(15), "the employee's tunnel passes ping")

        # --- Extend: a new code moves the deadline, the tunnel stays up ---
        pinger = subprocess.Popen(["ip", "netns", "exec", E["WG_NS_CLI"], "ping", "-i", "0.1", "-W", "1",
                                   E["WG_SRV_IP"]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(1)
        exp1 = expires(drv, "laptop")
        before = sh("wg", "show", E["WG_IF_SRV"], "latest-handshakes").stdout
        drv.find_element(By.CSS_SELECTOR, 'button.extend[data-device="laptop"]').click()
        ok(wait_screen(drv, "screen-code"), "Extend asks for a new code")
        shot(drv, "04-extend-code")
        m2 = wait_mail(2)
        code2 = mail_code(m2) if m2 else None
        ok(code2 is not None and code2 != code, "a new code arrived")
        time.sleep(1.5)				# so the new deadline is visibly later
        type_code(drv, code2 or "000000")
        ok(wait_screen(drv, "screen-status"), "the new code: back to the status page")
        time.sleep(1.5)
        pinger.send_signal(signal.SIGINT)
        out = pinger.communicate(timeout=10)[0]
        m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
        sent, got = (int(m.group(1)), int(m.group(2))) if m else (0, -1)
        ok(sent >= 20 and sent == got, "a ping every 100 ms across Extend lost nothing (%d/%d)" % (got, sent),
           out[-400:])
        after = sh("wg", "show", E["WG_IF_SRV"], "latest-handshakes").stdout
        ok(has_peer(alice_key), "the peer stayed")
        diag("handshakes before %s after %s" % (before.split(), after.split()))
        exp2 = expires(drv, "laptop")
        ok(exp2 > exp1 > 0, "Extend moved the deadline (%d -> %d)" % (exp1, exp2))
        b2 = badge(drv, "laptop")
        ok(b2.startswith("Active, "), "badge after Extend: " + b2)
        shot(drv, "05-status-extended")

        # --- Deactivate ---------------------------------------------------
        drv.find_element(By.CSS_SELECTOR, 'button.deactivate[data-device="laptop"]').click()
        ok(wait_screen(drv, "screen-email"), "Deactivate: signed out, back to the email screen")
        ok(not has_peer(alice_key), "Deactivate removed the peer")
        ok(not ping_once(), "the tunnel no longer passes")
        shot(drv, "06-deactivated")

        # --- a TOTP user ---------------------------------------------------
        n_mail = len(mails())
        ok(login(drv, "tina@example.com"), "tina (TOTP): the code screen")
        prompt_tina = drv.find_element(By.ID, "prompt").text
        ok("authenticator" in prompt_tina, "asks for the authenticator's code: " + prompt_tina)
        shot(drv, "07-code-totp")
        totp = sh("oathtool", "--totp", "-b", E["PB_TINA_SECRET"]).stdout.strip()
        type_code(drv, totp)
        ok(wait_screen(drv, "screen-status"), "oathtool's code: the status page")
        ok(badge(drv, "desktop").startswith("Active, "), "tina's badge: " + badge(drv, "desktop"))
        ok(has_peer(tina_key), "tina's peer is on the interface")
        ok(len(mails()) == n_mail, "no mail for a TOTP user")
        shot(drv, "08-status-totp")
        drv.find_element(By.ID, "logout").click()
        ok(wait_screen(drv, "screen-email"), "Sign out")

        # --- two devices: pick one, once ------------------------------------
        n_mail = len(mails())
        ok(login(drv, "bob@example.com"), "bob (two devices): the code screen")
        mb = wait_mail(n_mail + 1)
        type_code(drv, (mail_code(mb) if mb else None) or "000000")
        ok(wait_screen(drv, "screen-device"), "the right code: which device?")
        names = [e.get_attribute("value") for e in drv.find_elements(By.CSS_SELECTOR, "input[name=device]")]
        ok(names == ["laptop", "phone"], "both devices offered, only now: %s" % names)
        ok(not has_peer(E["PB_BOB_PUB1"]) and not has_peer(E["PB_BOB_PUB2"]), "nothing opened before the pick")
        shot(drv, "11-choose-device")
        # the keyboard alone: arrow to the phone, Enter
        first = drv.find_element(By.ID, "device-0")
        first.send_keys(Keys.ARROW_DOWN)
        drv.switch_to.active_element.send_keys(Keys.ENTER)
        ok(wait_screen(drv, "screen-status"), "picked: the status page")
        ok(badge(drv, "phone").startswith("Active, ") and badge(drv, "laptop") == "Inactive",
           "the phone active, the laptop inactive (%s / %s)" % (badge(drv, "phone"), badge(drv, "laptop")))
        ok(has_peer(E["PB_BOB_PUB2"]) and not has_peer(E["PB_BOB_PUB1"]), "one code opened one peer")
        shot(drv, "12-status-two-devices")
        drv.find_element(By.ID, "logout").click()
        wait_screen(drv, "screen-email")

        # --- an unknown user: the same screens, no mail ---------------------
        n_mail = len(mails())
        ok(login(drv, "mallory@example.com"), "unknown user: the same code screen")
        prompt_m = drv.find_element(By.ID, "prompt").text
        ok(re.match(r"Enter the code sent to m\*+y@example\.com", prompt_m), "the same kind of prompt: " + prompt_m)
        ok(visible(drv, "#duration") and drv.find_element(By.ID, "code-label").text ==
           "6-digit code", "the same fields")
        shot(drv, "09-code-unknown")
        time.sleep(2)
        ok(len(mails()) == n_mail, "no mail was sent")
        type_code(drv, "123456")
        WebDriverWait(drv, 10).until(EC.visibility_of_element_located((By.ID, "message")))
        msg = drv.find_element(By.ID, "message").text
        ok(msg == "That code is not right.", "any code: the reply a wrong code gets (%s)" % msg)
        shot(drv, "10-unknown-refused")
        # --- enrolment by invitation: QR code, oathtool, then a sign-in ---
        enrol(drv)
        errs = csp_errors(drv)
        ok(not errs, "no Content-Security-Policy violation nor error in the console", "\n".join(errs))
    finally:
        drv.quit()
        with open(E["PB_COUNT"], "w") as f:
            f.write("%d %d\n" % (N, FAILED))


if __name__ == "__main__":
    main()
