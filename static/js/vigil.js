// Vigil console behaviour: keyboard shortcuts and click-to-reveal media. No build step.
(function () {
  "use strict";

  // A case's lease is renewed only while the reviewer is actually there: a tab left open on an
  // unattended desk lets the lease run out and the case go back to the queue.
  // "Exit this page" (the self-report page): leave at once, replacing this page in the
  // history so Back does not return to it; Shift pressed three times within two seconds does the
  // same from anywhere on the page (the GOV.UK pattern). Without JavaScript the link still works.
  var quickExit = document.querySelector("[data-quick-exit]");
  if (quickExit) {
    var leave = function (e) {
      if (e) e.preventDefault();
      document.body.style.visibility = "hidden";
      window.location.replace(quickExit.href);
    };
    quickExit.addEventListener("click", leave);
    var shifts = [];
    document.addEventListener("keyup", function (e) {
      if (e.key !== "Shift") return;
      var now = Date.now();
      shifts = shifts.filter(function (t) { return now - t < 2000; });
      shifts.push(now);
      if (shifts.length >= 3) leave();
    });
  }

  // A public form sent back with errors: its summary of them takes the focus (a screen reader
  // reads it, a phone scrolls to it), and each of its links puts the cursor in its field.
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.focus();
    summary.addEventListener("click", function (e) {
      var link = e.target.closest("a[href^='#']");
      var target = link && document.getElementById(link.getAttribute("href").slice(1));
      var input = target && target.querySelector("input, select, textarea");
      if (!input) return;
      e.preventDefault();
      target.scrollIntoView({ block: "center" });
      input.focus();
    });
  }

  var lastActivity = Date.now();
  ["keydown", "mousemove", "mousedown", "scroll", "touchstart"].forEach(function (type) {
    document.addEventListener(type, function () { lastActivity = Date.now(); }, { passive: true });
  });
  window.vigilActive = function () { return Date.now() - lastActivity < 120000; };

  // Keys typed into a text field are text, not shortcuts. A focused radio or checkbox takes no
  // text, so shortcuts keep working after a digit has picked an action.
  function typing(el) {
    if (!el) return false;
    if (el.tagName === "INPUT") return !["radio", "checkbox", "button", "submit"].includes(el.type);
    return el.isContentEditable || ["TEXTAREA", "SELECT"].includes(el.tagName);
  }

  // Media is not fetched until the reviewer asks for it: the fetch is what the server logs as a
  // view. It then appears blurred and greyscale as the reviewer's preferences say, and each is
  // lifted separately (click or u to unblur, c for colour), so nobody sees more than they chose.
  // A video is revealed twice over, each logged once: its stills ("Show frames", r) and its
  // player ("Play video", v); the server answers each reveal with the markup (htmx), already
  // blurred, and the player's requests carry the reveal's token.
  var lastRevealed = null;
  var lastPlayer = null;

  function applyFilter(el) {
    var parts = [];
    if (el.dataset.blur !== "0") parts.push("blur(" + el.dataset.blur + "px)");
    if (el.dataset.greyscale === "1") parts.push("grayscale(1)");
    var value = parts.join(" ") || "none";
    // A strip's stills are filtered one by one, so their times and marks stay readable.
    if (el.classList.contains("strip")) el.style.setProperty("--media-filter", value);
    else el.style.filter = value;
  }

  function reveal(frame) {
    if (!frame || frame.dataset.revealed) return;
    var img = document.createElement("img");
    img.src = frame.dataset.src;
    img.alt = "Revealed media";
    img.className = "revealed";
    img.dataset.blur = frame.dataset.blur || "0";
    img.dataset.greyscale = frame.dataset.greyscale || "0";
    img.title = "Click to unblur (u); c for colour";
    applyFilter(img);
    frame.replaceChildren(img);
    frame.dataset.revealed = "1";
    keepRevealed("image:" + frame.dataset.media);
    var controls = frame.nextElementSibling;
    if (controls && controls.classList.contains("media-controls")) controls.hidden = false;
    lastRevealed = img;
  }

  // What is revealed is sent with the decision, so a decision the form refuses draws the page
  // again with it still revealed, not hidden to be revealed (and logged) again. The server shows
  // again only what this person's reveals account for (moderation/review/reveals.py).
  function keepRevealed(value) {
    var form = document.getElementById("decision-form");
    if (!form || !value) return;
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = "revealed";
    input.value = value;
    form.appendChild(input);
  }

  function unblur(img) {
    if (!img || img.dataset.blur === "0") return;
    toggleBlur(img);
  }

  // u and the Unblur button work both ways: a reviewer who has seen enough blurs it again (at
  // their preferred strength, or 16 px if they chose none), and the button says which it does.
  function toggleBlur(el) {
    if (!el) return;
    if (el.dataset.blur !== "0") {
      el.dataset.blurWas = el.dataset.blur;
      el.dataset.blur = "0";
    } else {
      el.dataset.blur = el.dataset.blurWas || "16";
    }
    applyFilter(el);
    var scope = el.closest(".video-frames, .video-player, .media-item");
    var blurred = el.dataset.blur !== "0";
    if (!scope) return;
    scope.querySelectorAll(".unblur").forEach(function (button) {
      button.innerHTML = (blurred ? "Unblur" : "Blur again") + " <kbd>u</kbd>";
      button.setAttribute("aria-pressed", blurred ? "false" : "true");
    });
  }

  function toggleColour(img) {
    if (!img) return;
    img.dataset.greyscale = img.dataset.greyscale === "1" ? "0" : "1";
    applyFilter(img);
  }

  function imageOf(button) {
    var scope = button.closest(".video-frames, .video-player, .media-item");
    return scope && scope.querySelector(".revealed");
  }

  document.addEventListener("click", function (e) {
    var strip = e.target.closest(".strip.revealed, .media-frame > img.revealed");
    if (strip) { unblur(strip); return; }
    var button = e.target.closest(".reveal, .unblur, .colour, .step");
    if (!button) return;
    if (button.classList.contains("reveal")) reveal(button.closest(".media-frame"));
    else if (button.classList.contains("unblur")) toggleBlur(imageOf(button));
    else if (button.classList.contains("colour")) toggleColour(imageOf(button));
    else step(imageOf(button), Number(button.dataset.step));
  });

  // A video's stills or player arrived (htmx swapped in the reveal's answer).
  document.addEventListener("htmx:afterSwap", function (e) {
    var scope = e.detail.target;
    var el = scope && scope.querySelector(".revealed");
    if (!el) return;
    scope.dataset.revealed = "1";
    applyFilter(el);
    revealed(el);
    if (el.tagName === "VIDEO") el.focus();
  });

  function revealed(el) {
    lastRevealed = el;
    keepRevealed(el.dataset.reveal);
    if (el.tagName === "VIDEO") {
      // Muted unless the reviewer's preferences say otherwise (the server drew the attribute).
      el.muted = el.hasAttribute("muted");
      el.dataset.reportedAt = String(Date.now());
      lastPlayer = el;
    }
  }

  // Drawn revealed by the server after a refused decision: carry on as if just revealed.
  document.querySelectorAll("[data-revealed] > .revealed").forEach(function (el) {
    if (el.tagName === "IMG") keepRevealed("image:" + el.parentElement.dataset.media);
    revealed(el);
  });

  // Frame by frame: pause, then move one frame (1 / frame rate) at a time.
  function step(video, frames) {
    if (!video || video.tagName !== "VIDEO") return;
    video.pause();
    var rate = parseFloat(video.dataset.frameRate) || 30;
    var end = isFinite(video.duration) ? video.duration : Infinity;
    video.currentTime = Math.min(end, Math.max(0, video.currentTime + frames / rate));
  }

  function clock(seconds) {
    var m = Math.floor(seconds / 60), s = seconds - m * 60;
    return m + ":" + (s < 10 ? "0" : "") + s.toFixed(2);
  }

  function showTime(video) {
    var out = video.parentElement && video.parentElement.querySelector(".video-time");
    if (out) out.textContent = clock(video.currentTime) + (isFinite(video.duration) ? " / " + clock(video.duration) : "");
  }

  // Exposure counts the seconds played: the sum of what the player has played since its reveal,
  // sent on pause, at the end, every 15 s of playing and as the page goes (a beacon survives
  // the page). The server keeps the largest total, at most the video's length.
  function secondsPlayed(video) {
    var total = 0;
    for (var i = 0; i < video.played.length; i++) total += video.played.end(i) - video.played.start(i);
    return total;
  }

  function reportPlayed(video) {
    if (!video.dataset.playedUrl) return;
    var seconds = secondsPlayed(video);
    if (seconds <= (parseFloat(video.dataset.reported) || 0)) return;
    video.dataset.reported = String(seconds);
    video.dataset.reportedAt = String(Date.now());
    var body = new FormData();
    body.append("csrfmiddlewaretoken", video.dataset.csrf);
    body.append("reveal", video.dataset.reveal);
    body.append("seconds", seconds.toFixed(3));
    navigator.sendBeacon(video.dataset.playedUrl, body);
  }

  function onVideo(type, handler) {
    // Media events do not bubble: listen as they go down.
    document.addEventListener(type, function (e) {
      if (e.target.tagName === "VIDEO" && e.target.dataset.playedUrl) handler(e.target);
    }, true);
  }
  onVideo("pause", reportPlayed);
  onVideo("ended", reportPlayed);
  onVideo("seeked", showTime);
  onVideo("loadedmetadata", showTime);
  onVideo("timeupdate", function (video) {
    showTime(video);
    if (Date.now() - (parseFloat(video.dataset.reportedAt) || 0) > 15000) reportPlayed(video);
  });
  onVideo("error", function (video) {
    var note = video.parentElement && video.parentElement.querySelector(".player-error");
    if (note) note.hidden = false;
  });
  function reportAll() {
    document.querySelectorAll("video[data-played-url]").forEach(reportPlayed);
  }
  window.addEventListener("pagehide", reportAll);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") reportAll();
  });

  // A form sent twice records one decision (the server refuses the second); disabling the
  // buttons after the first send spares the reviewer the refusal message.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.dataset.sent) { e.preventDefault(); return; }
    form.dataset.sent = "1";
  });

  // A page restored from the back/forward cache may be sent again.
  window.addEventListener("pageshow", function (e) {
    if (!e.persisted) return;
    document.querySelectorAll("form[data-sent]").forEach(function (f) { delete f.dataset.sent; });
  });

  // Letters that move to a decision field; Escape leaves a field so shortcuts work again.
  var FIELDS = { p: "id_policy", i: "id_intent", l: "id_classification", t: "id_notes" };

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "Escape" && typing(e.target)) {
      e.target.blur();
      return;
    }
    if (typing(e.target)) return;
    var form = document.getElementById("decision-form");
    if (e.key === "r") {
      // The next image, or the next video's stills, in page order.
      var next = document.querySelector(
        ".media-frame:not([data-revealed]), .video-frames:not([data-revealed]) .reveal-frames"
      );
      if (next && next.classList.contains("reveal-frames")) next.click();
      else reveal(next);
      return;
    }
    if (e.key === "v") {
      var play = document.querySelector(".video-player:not([data-revealed]) .play-video");
      if (play) play.click();
      return;
    }
    if (e.key === "," || e.key === ".") {
      e.preventDefault();
      step(lastPlayer, e.key === "." ? 1 : -1);
      return;
    }
    if (e.key === "u") { toggleBlur(lastRevealed); return; }
    if (e.key === "c") { toggleColour(lastRevealed); return; }
    if (FIELDS[e.key] && form) {
      var field = document.getElementById(FIELDS[e.key]);
      if (field) { e.preventDefault(); field.focus(); }
      return;
    }
    // Enter on a link, a button or a disclosure does what it says there, never records a
    // decision (a conversation's pages are links on the case page).
    if (e.key === "Enter" && form && !e.target.closest("a[href], button, summary")) {
      e.preventDefault();
      form.requestSubmit();
      return;
    }
    var target = document.querySelector('[data-key="' + CSS.escape(e.key) + '"]');
    if (!target) return;
    e.preventDefault();
    var radio = target.querySelector("input[type=radio]");
    if (radio) { radio.checked = true; radio.focus(); }
    else target.click();
  });

  // Search (the navigation's box, reviewers and up): Ctrl-K or Cmd-K from anywhere, and / when
  // no field is taking text (it is no other shortcut), put the cursor in it; Escape leaves it.
  // On the results page, the case a query names exactly is focused, so Enter opens it.
  var searchBox = document.querySelector("[data-search-box]");
  if (searchBox) {
    document.addEventListener("keydown", function (e) {
      var commandK = (e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "k";
      var slash = e.key === "/" && !e.ctrlKey && !e.metaKey && !e.altKey && !typing(e.target);
      if (commandK || slash) {
        e.preventDefault();
        searchBox.focus();
        searchBox.select();
      } else if (e.key === "Escape" && e.target === searchBox) {
        e.preventDefault(); // a search field would clear itself: keep what was typed
        searchBox.blur();
      }
    });
    var first = document.querySelector("[data-search-first]");
    if (first && document.activeElement !== first) first.focus();
  }
})();
