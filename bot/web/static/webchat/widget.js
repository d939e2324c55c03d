/* keepposted chat widget, for a company's own site:

     <script src="https://support.example.com/widget.js"
             data-link="https://support.example.com/c/TOKEN"
             data-label="Chat about your case" data-program="Acme Telecom" async></script>

   Without data-link, the token comes from the host page's ?kp_chat= (a bare token or a whole
   link). It adds a launcher button and a panel framing the case's chat page. It runs on someone
   else's page, so: no globals but window.keepposted, styles only through the CSSOM (the host's
   CSP may forbid style attributes), no markup strings, and nothing thrown at the host. */
(() => {
  "use strict";

  if (window.keepposted) return;  // pasted twice: one widget is enough

  const script = document.currentScript
    || Array.from(document.querySelectorAll('script[src*="widget.js"]')).pop();
  if (!script || !script.src) return;

  const TOKEN = /^[A-Za-z0-9_.\-]+$/;
  const ACCENT = "#0b5cad";
  const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
  const Z = "2147483000";
  const narrow = window.matchMedia("(max-width: 479px)");

  /** "TOKEN", "https://x/c/TOKEN?embed=1" or "/c/TOKEN/" -> "TOKEN"; anything odd -> null. */
  function tokenFrom(value) {
    let text = String(value || "").trim().split(/[?#]/)[0];
    const at = text.lastIndexOf("/c/");
    if (at >= 0) text = text.slice(at + 3);
    text = text.split("/")[0];
    // Dots are allowed in tokens, but "." and ".." would walk out of /c/.
    return TOKEN.test(text) && !/^\.+$/.test(text) ? text : null;
  }

  /** Sets styles through the CSSOM, !important so host-page rules cannot bend the widget. */
  function css(node, styles) {
    for (const [name, value] of Object.entries(styles)) node.style.setProperty(name, value, "important");
  }

  /** A strong two-tone ring on keyboard focus (inline styles cannot say :focus-visible). */
  function focusRing(node) {
    node.addEventListener("focus", () => {
      let keyboard = true;
      try { keyboard = node.matches(":focus-visible"); } catch (_) { /* old browser: always */ }
      if (keyboard) css(node, { outline: "3px solid #1f2328", "outline-offset": "2px", "box-shadow": "0 0 0 2px #ffffff" });
    });
    node.addEventListener("blur", () => {
      css(node, { outline: "none", "box-shadow": node.dataset.shadow || "none" });
    });
  }

  function init() {
    if (window.keepposted || document.getElementById("keepposted-launcher")) return;
    const origin = new URL(script.src, window.location.href).origin;
    let param = null;
    try { param = new URLSearchParams(window.location.search).get("kp_chat"); } catch (_) { /* ignore */ }
    const source = script.dataset.link || param;
    const token = tokenFrom(source);
    if (!token) {
      console.info(source
        ? "keepposted widget: that chat link does not look right, so no chat button is shown."
        : "keepposted widget: no data-link and no ?kp_chat= in the address, so no chat button is shown.");
      return;
    }
    // Only our own origin, whatever the page's address said: a link cannot send us elsewhere.
    const frameSrc = `${origin}/c/${token}?embed=1`;
    const label = (script.dataset.label || "").trim() || "Chat about your case";
    const program = (script.dataset.program || "").trim() || "customer support";

    const launcher = document.createElement("button");
    launcher.type = "button";
    launcher.id = "keepposted-launcher";
    launcher.textContent = label;
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", "keepposted-panel");
    launcher.dataset.shadow = "0 4px 14px rgba(0, 0, 0, 0.25)";
    css(launcher, {
      position: "fixed", right: "20px", bottom: "20px", "z-index": Z, display: "block",
      width: "auto", height: "auto", "max-width": "calc(100vw - 40px)",
      "min-height": "48px", "min-width": "48px", margin: "0", padding: "12px 20px",
      border: "0", "border-radius": "24px", background: ACCENT, color: "#ffffff",
      font: `600 16px/1.25 ${FONT}`, "letter-spacing": "normal", "text-transform": "none",
      cursor: "pointer", "box-shadow": launcher.dataset.shadow, outline: "none",
    });

    const panel = document.createElement("div");
    panel.id = "keepposted-panel";
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", label);
    css(panel, {
      position: "fixed", "z-index": Z, display: "none", "flex-direction": "column",
      background: "#ffffff", overflow: "hidden", margin: "0", padding: "0",
      "box-sizing": "border-box", "font-family": FONT,
    });

    const bar = document.createElement("div");
    css(bar, {
      display: "flex", "justify-content": "space-between", "align-items": "center", gap: "8px",
      padding: "4px 4px 4px 16px", background: ACCENT, margin: "0", flex: "0 0 auto",
    });
    const heading = document.createElement("span");  // a caption, not a heading: not the host's outline
    heading.textContent = label;
    css(heading, { color: "#ffffff", font: `600 16px/1.25 ${FONT}`, overflow: "hidden",
      "text-overflow": "ellipsis", "white-space": "nowrap", margin: "0" });
    const close = document.createElement("button");
    close.type = "button";
    close.id = "keepposted-close";
    close.textContent = "Close";
    close.setAttribute("aria-label", "Close chat");
    css(close, {
      "min-height": "44px", "min-width": "44px", margin: "0", padding: "8px 16px",
      border: "2px solid #ffffff", "border-radius": "8px", background: "transparent",
      color: "#ffffff", font: `600 16px/1.25 ${FONT}`, cursor: "pointer", outline: "none",
    });
    bar.append(heading, close);
    panel.append(bar);

    let frame = null;

    function layout() {
      // Full screen on phones; a 380 x 600 card above the launcher elsewhere.
      if (narrow.matches) {
        css(panel, { top: "0", left: "0", right: "0", bottom: "0", width: "100%", height: "100%",
          "max-width": "none", "max-height": "none", "border-radius": "0", border: "0", "box-shadow": "none" });
      } else {
        css(panel, { top: "auto", left: "auto", right: "20px", bottom: "84px", width: "380px",
          height: "600px", "max-width": "calc(100vw - 40px)", "max-height": "calc(100vh - 104px)",
          "border-radius": "12px", border: "1px solid #d0d7de", "box-shadow": "0 8px 30px rgba(0, 0, 0, 0.3)" });
      }
    }

    function isOpen() { return !panel.hidden; }

    // On a phone the open panel fills the screen; the launcher would sit on the Send button.
    function syncLauncher() {
      css(launcher, { display: isOpen() && narrow.matches ? "none" : "block" });
    }

    function open() {
      if (isOpen()) return;
      if (!frame) {  // made on first open: a visitor who never opens it loads nothing
        frame = document.createElement("iframe");
        frame.id = "keepposted-frame";
        frame.title = `Chat with ${program}`;
        frame.src = frameSrc;
        frame.setAttribute("sandbox", "allow-scripts allow-same-origin allow-forms");
        frame.referrerPolicy = "strict-origin";
        css(frame, { flex: "1 1 0", "min-height": "0", width: "100%", height: "auto", border: "0", margin: "0",
          padding: "0", display: "block", background: "#f3f4f6" });
        panel.append(frame);
      }
      layout();
      panel.hidden = false;
      css(panel, { display: "flex" });
      launcher.setAttribute("aria-expanded", "true");
      syncLauncher();
      close.focus();
    }

    function closePanel() {
      if (!isOpen()) return;
      panel.hidden = true;
      css(panel, { display: "none" });
      launcher.setAttribute("aria-expanded", "false");
      syncLauncher();
      launcher.focus();
    }

    launcher.addEventListener("click", () => (isOpen() ? closePanel() : open()));
    close.addEventListener("click", closePanel);
    focusRing(launcher);
    focusRing(close);
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && isOpen()) closePanel();
    });
    // Escape pressed inside the frame: the chat page tells us (only our frame, only our origin).
    window.addEventListener("message", (event) => {
      if (event.origin !== origin || !frame || event.source !== frame.contentWindow) return;
      if (event.data && event.data.type === "keepposted:close") closePanel();
    });
    if (narrow.addEventListener) narrow.addEventListener("change", () => { layout(); syncLauncher(); });

    document.body.append(panel, launcher);
    window.keepposted = Object.freeze({ open, close: closePanel });
  }

  function start() {
    try { init(); } catch (error) { console.info("keepposted widget: not started:", error); }
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start, { once: true });
})();
