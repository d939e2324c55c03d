/* keepposted web chat. The page already works without this script (plain form POSTs answered
   with a 303); this polls for new messages and sends replies and answers with fetch + JSON.
   Everything the server sends goes into the page as text (textContent), never as markup.
   No sentence is written here: the page hands over what the script may have to say itself in
   data-wording (templates/webchat/problem.txt.j2, link_error.txt.j2 and page_words.json.j2),
   in the customer's language. */
(() => {
  "use strict";

  const main = document.getElementById("chat");
  if (!main || !window.fetch || !main.dataset.messagesUrl) return;

  const $ = (id) => document.getElementById(id);
  const VISIBLE_MS = 2000;   // new messages show within 3 s while the page is looked at
  const HIDDEN_MS = 15000;   // a background tab asks rarely
  const MAX_BACKOFF_MS = 30000;
  const FATAL = new Set([403, 410]);  // the link no longer works: polling cannot help
  const wording = (() => { try { return JSON.parse(main.dataset.wording || "{}"); } catch (_) { return {}; } })();
  const say = (name, values = {}) =>
    String(wording[name] || "").replace(/\{(\w+)\}/g, (all, key) => (key in values ? String(values[key]) : all));

  const messagesUrl = main.dataset.messagesUrl;
  const maxChars = Number(main.dataset.maxChars) || 2000;
  let cursor = Number(main.dataset.cursor) || 0;

  const timeline = $("timeline");
  const empty = $("timeline-empty");
  const replyForm = $("reply-form");
  const reply = $("reply");
  const sendButton = $("send");
  const forms = { confirmation: $("confirm-form"), rating: $("rating-form"), reopen: $("reopen-form") };
  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
  // The Ctrl+Enter hint is for a hardware keyboard and mouse; on a phone it is noise.
  const finePointer = window.matchMedia("(hover: hover) and (pointer: fine)");
  const motion = () => (reducedMotion.matches ? "auto" : "smooth");

  let timer = 0, countTimer = 0, failures = 0, stopped = false, focusAfterAnswer = false;
  let polling = false;    // never two polls at once ...
  let pollAgain = false;  // ... but one asked for meanwhile runs right after
  const busy = { reply: false, answer: false };
  const pending = { reply: null, answer: null };  // {key, id}: the client_id a retry reuses

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text == null ? "" : String(text);
    return node;
  }

  function messageItem(m) {
    const li = el("li", "msg " + (m.from === "customer" ? "msg--customer" : "msg--team"));
    li.dataset.id = String(m.id);
    const time = el("time", "", m.at_text);
    time.dateTime = String(m.at || "");
    const meta = el("p", "msg__meta");
    meta.append(el("span", "msg__author", m.author), " ", time);
    li.append(meta, el("p", "msg__body", m.body));
    return li;
  }

  /** Adds the messages not shown yet, in id order; returns how many were added. */
  function addMessages(messages, animate = true) {
    let added = 0;
    for (const m of messages || []) {
      const id = Number(m && m.id);
      if (!Number.isFinite(id) || timeline.querySelector(`li[data-id="${id}"]`)) continue;
      const li = messageItem(m);
      if (animate) li.classList.add("msg--new");
      // A reply we just posted may already be shown when an older team message arrives.
      let before = null;
      for (const other of timeline.querySelectorAll("li[data-id]")) {
        if (Number(other.dataset.id) > id) { before = other; break; }
      }
      timeline.insertBefore(li, before);
      added += 1;
    }
    if (added && empty) empty.hidden = true;
    return added;
  }

  function scrollToEnd() {
    const last = timeline.lastElementChild;
    // "nearest" leaves the page alone when the newest message is already in view.
    if (last) last.scrollIntoView({ block: "nearest", behavior: motion() });
  }

  /** Brings the answer buttons into view when they are shown (they sit under the newest
      message, so that stays in view above them); else the newest message. */
  function revealLatest() {
    const answer = $("answer");
    if (answer.hidden) scrollToEnd();
    else answer.scrollIntoView({ block: "nearest", behavior: motion() });
  }

  const setLine = (lineId, textId, value) => { $(textId).textContent = value || ""; $(lineId).hidden = !value; };

  function updateCase(c) {
    if (!c) return;
    if (c.title) $("case-title").textContent = c.title;
    $("status-text").textContent = c.status_text || "";
    $("status").dataset.status = c.status || "";
    setLine("eta", "eta-text", c.eta_text);
    $("eta-missed").hidden = !c.eta_missed;
    setLine("next-update", "next-update-text", c.next_update_text);
    setLine("resolution", "resolution-text", c.resolution);
  }

  let shownAnswer = null;  // which answer form shows, so a change brings it into view

  /** Shows the answer form the case waits for; true when that changed. */
  function updateState(s) {
    if (!s) return false;
    const want = s.awaiting === "confirmation" || s.awaiting === "rating" ? s.awaiting
      : s.can_reopen ? "reopen" : null;
    const active = document.activeElement;
    let moveFocus = false;
    for (const [name, form] of Object.entries(forms)) {
      const hide = name !== want;
      if (hide && !form.hidden && (form.contains(active) || focusAfterAnswer)) moveFocus = true;
      form.hidden = hide;
    }
    $("answer").hidden = !want;
    if (want !== null || moveFocus) focusAfterAnswer = false;
    // Focus only moves when the button the customer just used went away, never out of the textarea.
    if (moveFocus && active !== reply) {
      const next = want && forms[want].querySelector("button");
      // preventScroll: revealLatest() scrolls, respecting prefers-reduced-motion.
      (next || $("case-title")).focus({ preventScroll: Boolean(next) });
    }
    const changed = want !== shownAnswer;
    shownAnswer = want;
    return changed;
  }

  function render(data) {
    updateCase(data.case);
    const changed = updateState(data.state);
    const added = addMessages(data.messages);
    if (Number.isInteger(data.cursor) && data.cursor > cursor) {
      cursor = data.cursor;
      main.dataset.cursor = String(cursor);
    }
    if (added || changed) revealLatest();
  }

  async function request(method, body) {
    const url = new URL(messagesUrl, window.location.href);
    if (method === "GET") url.searchParams.set("after", String(cursor));
    const headers = body ? { Accept: "application/json", "Content-Type": "application/json" } : { Accept: "application/json" };
    const res = await fetch(url.toString(), {
      method, headers, credentials: "same-origin", cache: "no-store", body: body ? JSON.stringify(body) : undefined,
    });
    const data = await res.json().catch(() => null);  // not JSON, e.g. a proxy's error page
    return { res, data };
  }

  function errorMessage(res, data) {
    // A server error's own message is for developers; the customer gets the page's wording.
    if (res.status >= 500) return res.status === 503 ? say("unavailable") : say("failed", { status: res.status });
    const given = data && data.error && data.error.message;
    if (given) return String(given);
    return (FATAL.has(res.status) && (wording.links || {})[res.status]) || say("failed", { status: res.status });
  }

  function retryAfterMs(res) {
    const seconds = Number(res.headers.get("Retry-After"));
    return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 300) * 1000 : 5000;
  }

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();  // secure contexts only
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function showError(message, fromAnswer = false) {
    message = message.replace(/\s*\n\s*/g, " ");  // a link problem: its heading, then why
    $("reply-error").textContent = message;
    // A sighted customer who pressed an answer button sees the error next to it too; the
    // copy is aria-hidden so screen readers hear it once, from #reply-error (role=alert).
    $("answer-error").textContent = fromAnswer ? message : "";
  }

  const setReconnecting = (on) => { $("connection").textContent = on ? say("reconnecting") : ""; };

  /** The link stopped working: stop polling, keep the words on screen, say so plainly. */
  function fatal(message) {
    stopped = true; clearTimeout(timer); setReconnecting(false);
    for (const button of main.querySelectorAll("button")) button.disabled = true;
    reply.readOnly = true;  // read-only, not disabled: the text can still be copied
    showError(message);
    // A link problem's first line is its heading: shown in bold, the explanation after it.
    const [heading, ...why] = message.split("\n");
    const banner = $("fatal-error");
    banner.replaceChildren(el("strong", "", heading), why.length ? " " + why.join(" ") : "");
    banner.hidden = false;
  }

  function nextDelay() {
    const base = document.hidden ? HIDDEN_MS : VISIBLE_MS;
    return failures ? Math.min(MAX_BACKOFF_MS, Math.max(base, VISIBLE_MS * 2 ** failures)) : base;
  }

  function schedule(atLeast = 0) {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(poll, Math.max(atLeast, nextDelay()));
  }

  async function poll() {
    if (stopped) return;
    if (polling) { pollAgain = true; return; }
    polling = true; pollAgain = false;
    clearTimeout(timer);
    let wait = 0;
    try {
      const { res, data } = await request("GET");
      if (res.ok && data) {
        render(data); failures = 0; setReconnecting(false);
      } else if (FATAL.has(res.status)) {
        fatal(errorMessage(res, data));
      } else if (res.status === 429) {
        wait = retryAfterMs(res);
      } else {
        failures += 1;  // 5xx or an odd answer: try again later, more slowly each time
        setReconnecting(true);
      }
    } catch (_) {
      failures += 1; setReconnecting(true);
    } finally {
      polling = false;
      if (pollAgain) poll(); else schedule(wait);
    }
  }

  /** POSTs one reply or answer; true when the server took it. */
  async function post(slot, key, fields) {
    // The same words retried after a failure keep their client_id, so the server drops a repeat.
    if (!pending[slot] || pending[slot].key !== key) pending[slot] = { key, id: newClientId() };
    showError("");
    try {
      const { res, data } = await request("POST", { client_id: pending[slot].id, ...fields });
      if (res.ok) {
        pending[slot] = null;
        if (data && data.message && addMessages([data.message])) revealLatest();
        if (slot === "answer") focusAfterAnswer = true;
        poll();
        return true;
      }
      if (FATAL.has(res.status)) fatal(errorMessage(res, data));
      else showError(errorMessage(res, data), slot === "answer");
    } catch (_) {
      showError(say(slot === "reply" ? "offline_reply" : "offline_answer"), slot === "answer");
    }
    return false;
  }

  function updateCount() {
    const left = maxChars - reply.value.length;
    const near = left <= Math.max(20, Math.round(maxChars * 0.1));
    $("reply-count-visual").textContent = `${reply.value.length} / ${maxChars}`;
    $("reply-count").classList.toggle("is-near", near);
    // Screen readers hear the count only near the limit, once typing pauses.
    clearTimeout(countTimer);
    const live = $("reply-count-live");
    if (!near) live.textContent = "";
    else countTimer = setTimeout(() => { live.textContent = say("characters_left", { count: Math.max(left, 0) }); }, 800);
  }

  replyForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy.reply || stopped) return;
    const text = reply.value;
    if (!text.trim()) { showError(say("empty")); return; }
    // Longer than maxChars (the box's maxlength stops typing there) is the server's to word.
    const hadFocus = document.activeElement === sendButton;
    busy.reply = sendButton.disabled = true;
    replyForm.setAttribute("aria-busy", "true");
    try {
      // Clear only if unchanged: words typed while it was sending are not thrown away.
      if (await post("reply", text, { text }) && reply.value === text) { reply.value = ""; updateCount(); }
    } finally {
      busy.reply = false;
      replyForm.removeAttribute("aria-busy");
      if (!stopped) { sendButton.disabled = false; if (hadFocus) sendButton.focus(); }
    }
  });

  // Enter is a new line; Ctrl+Enter (Cmd+Enter on a Mac) sends.
  reply.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey) || event.isComposing) return;
    event.preventDefault();
    if (replyForm.requestSubmit) replyForm.requestSubmit(); else sendButton.click();
  });
  reply.addEventListener("input", updateCount);

  for (const form of Object.values(forms)) {
    let clicked = null;  // for browsers without SubmitEvent.submitter
    form.addEventListener("click", (event) => { clicked = event.target.closest("button"); });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = event.submitter || clicked;
      if (!button || busy.answer || stopped) return;
      const fields = form === forms.rating
        ? { action: "rate", score: Number(button.value) }
        : { action: button.value };
      const buttons = form.querySelectorAll("button");
      const hadFocus = form.contains(document.activeElement);
      busy.answer = true;
      buttons.forEach((b) => { b.disabled = true; });
      try {
        await post("answer", JSON.stringify(fields), fields);
      } finally {
        busy.answer = false;
        if (!stopped) buttons.forEach((b) => { b.disabled = false; });
        // Still showing (the answer failed, or the poll has not landed yet): keep focus here.
        if (hadFocus && !form.hidden && !stopped) button.focus();
      }
    });
  }

  // Inside the widget's frame, Escape closes the panel (the host page never sees our keys).
  if (main.dataset.embed === "1" && window.parent !== window) {
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !event.isComposing) window.parent.postMessage({ type: "keepposted:close" }, "*");
    });
  }

  document.addEventListener("visibilitychange", () => {
    if (stopped) return;
    if (document.hidden) { if (!polling) schedule(); } else poll();
  });
  window.addEventListener("pageshow", (event) => { if (event.persisted) poll(); });

  const showShortcut = () => { $("reply-shortcut").hidden = !finePointer.matches; };
  if (finePointer.addEventListener) finePointer.addEventListener("change", showShortcut);
  showShortcut();
  // The page opens on the answer it waits for (the first poll would find it anyway).
  shownAnswer = Object.keys(forms).find((name) => !forms[name].hidden) || null;
  if (shownAnswer) revealLatest();
  updateCount();
  schedule();
})();
