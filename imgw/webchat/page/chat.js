// The web chat client: one WebSocket to ws, JSON frames, plain text only:
// chat text is shown with textContent, never parsed as HTML (a test fails on
// any API that would). The visitor key the server issues is kept in
// sessionStorage so a reload continues the conversation.
(function () {
  "use strict";
  const log = document.getElementById("log");
  const typing = document.getElementById("typing");
  const form = document.getElementById("form");
  const input = document.getElementById("text");
  let ws = null, retry = 500, typingSent = false, typingTimer = null;

  function show(cls, text) {
    const div = document.createElement("div");
    div.className = "msg " + cls;
    div.textContent = text;
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
  }

  function connect() {
    const key = sessionStorage.getItem("ccswitch-visitor") || "";
    const url = new URL("ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    if (key) url.searchParams.set("visitor", key);
    const identity = new URLSearchParams(location.search).get("identity");
    if (identity) url.searchParams.set("identity", identity);
    ws = new WebSocket(url);
    ws.onopen = () => { retry = 500; document.body.dataset.state = "open"; };
    ws.onmessage = (ev) => {
      const f = JSON.parse(ev.data);
      if (f.type === "welcome") sessionStorage.setItem("ccswitch-visitor", f.visitor);
      else if (f.type === "message") { typing.textContent = ""; show("center", f.text); }
      else if (f.type === "typing") typing.textContent = f.state === "composing" ? "typing..." : "";
      else if (f.type === "error") show("error", f.error);
    };
    ws.onclose = (ev) => {
      document.body.dataset.state = "closed";
      if (ev.code === 1008 || ev.code === 4403) sessionStorage.removeItem("ccswitch-visitor");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  function send(f) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(f)); }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    send({ type: "message", text: text });
    show("me", text);
    input.value = "";
    typingSent = false;
  });
  input.addEventListener("input", () => {
    if (!typingSent) { send({ type: "typing", state: "composing" }); typingSent = true; }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => { send({ type: "typing", state: "paused" }); typingSent = false; }, 3000);
  });
  connect();
})();
