// The example page: log in with POST /session (the server sets HttpOnly cookies), see the user
// with GET /me and over the WebSocket GET /ws, log out with DELETE /refresh (the end of the
// session: both tokens revoked). Same-origin fetches and sockets send the cookies by themselves;
// no token ever reaches this script.
"use strict";

const $ = (id) => document.getElementById(id);

function show(user) {
  $("login").hidden = user !== null;
  $("user").hidden = user === null;
  if (user !== null) {
    $("name").textContent = user.username;
    $("id").textContent = user.id;
    live();
  } else {
    $("live").textContent = "";
  }
}

// GET /ws: a WebSocket, opened with the access cookie (no script can put a token on one); the
// server sends the user and closes. The server refuses the handshake from any other origin.
function live() {
  $("live").textContent = "";
  const url = new URL("/ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(url);
  socket.onmessage = (event) => {
    const user = JSON.parse(event.data);
    $("live").textContent = `Live: ${user.username}, over a WebSocket.`;
  };
  socket.onerror = () => {
    $("live").textContent = "Live: the WebSocket was refused.";
  };
}

function say(text) {
  $("message").textContent = text;
}

async function send(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { ok: response.ok, status: response.status, body: await response.json().catch(() => ({})) };
}

const post = (path, body) => send("POST", path, body);

// POST /refresh, by one tab of this origin at a time: the tabs share the cookies, and two that
// refreshed at once would send the same refresh token twice, which the server takes for a stolen
// token and ends the session (RFC 9700 section 4.14.2). A tab that finds another refreshing
// waits for it, then asks /me first: the other's new cookies may have let it in. Web Locks
// exist wherever the `Secure` session cookies are kept (HTTPS, localhost); elsewhere it just
// refreshes.
const REFRESH_LOCK = "tower-login-manager refresh";

async function refresh() {
  if (!navigator.locks) {
    return post("/refresh");
  }
  const alone = await navigator.locks.request(REFRESH_LOCK, { ifAvailable: true }, (lock) =>
    lock === null ? null : post("/refresh"),
  );
  if (alone !== null) {
    return alone;
  }
  return navigator.locks.request(REFRESH_LOCK, async () => {
    const me = await fetch("/me");
    return me.status === 401 ? post("/refresh") : me;
  });
}

// The current user: /me, and once more after /refresh if the access token has expired; null
// when this browser is not logged in (401). Any other failure (the server cannot tell now, a
// 503) is thrown.
async function current() {
  const unknown = (status) =>
    new Error(`The server cannot tell who you are now (${status}): reload later.`);
  let response = await fetch("/me");
  if (response.status === 401) {
    const refreshed = await refresh();
    if (!refreshed.ok && refreshed.status !== 401) {
      throw unknown(refreshed.status);
    }
    if (refreshed.ok) {
      response = await fetch("/me");
    }
  }
  if (response.status === 401) {
    return null;
  }
  if (!response.ok) {
    throw unknown(response.status);
  }
  return response.json();
}

const NO_COOKIES =
  "Your password was right, but this browser did not keep the session cookies. They are " +
  "Secure: browsers keep them over HTTPS, or at localhost, unless their settings block cookies.";

function credentials() {
  return { username: $("username").value, password: $("password").value };
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const answer = await post("/session", credentials());
  if (answer.ok) {
    $("password").value = "";
    // The session is the cookies: a browser keeps `Secure` ones only over HTTPS or at
    // localhost, so ask the server who this browser is before saying it is logged in.
    try {
      const user = await current();
      say(user === null ? NO_COOKIES : "");
      show(user);
    } catch (error) {
      say(error.message);
    }
  } else {
    say(answer.body.message || `Login failed (${answer.status})`);
  }
});

$("register").addEventListener("click", async () => {
  const answer = await post("/register", credentials());
  say(answer.ok ? "Registered: now log in." : answer.body.message || `Failed (${answer.status})`);
});

$("log-out").addEventListener("click", async () => {
  // The refresh cookie is sent to /refresh only, so the session ends there; without one (it
  // expired: 401), the access token is revoked at /logout. A 401 there too: no token is left to
  // end. Any other failure (a 503) ended nothing: the user stays, told to try again.
  let answer;
  try {
    answer = await send("DELETE", "/refresh");
    if (answer.status === 401) {
      answer = await post("/logout");
    }
  } catch {
    answer = { ok: false, status: 0, body: {} };
  }
  if (!answer.ok && answer.status !== 401) {
    say(answer.body.message || "Could not log out: try again.");
    return;
  }
  say("Logged out.");
  show(null);
});

current().then(show, (error) => {
  say(error.message);
  show(null);
});
