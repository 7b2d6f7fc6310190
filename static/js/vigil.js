// Vigil console behaviour: keyboard shortcuts and click-to-reveal media. No build step.
(function () {
  "use strict";

  // A case's lease is renewed only while the reviewer is actually there: a tab left open on an
  // unattended desk lets the lease run out and the case go back to the queue.
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
  var lastRevealed = null;

  function applyFilter(img) {
    var parts = [];
    if (img.dataset.blur !== "0") parts.push("blur(" + img.dataset.blur + "px)");
    if (img.dataset.greyscale === "1") parts.push("grayscale(1)");
    img.style.filter = parts.join(" ") || "none";
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
    img.addEventListener("click", function () { unblur(img); });
    frame.replaceChildren(img);
    frame.dataset.revealed = "1";
    var controls = frame.nextElementSibling;
    if (controls && controls.classList.contains("media-controls")) controls.hidden = false;
    lastRevealed = img;
  }

  function unblur(img) {
    if (!img) return;
    img.dataset.blur = "0";
    applyFilter(img);
  }

  function toggleColour(img) {
    if (!img) return;
    img.dataset.greyscale = img.dataset.greyscale === "1" ? "0" : "1";
    applyFilter(img);
  }

  function imageOf(button) {
    var item = button.closest(".media-item");
    return item && item.querySelector("img.revealed");
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest(".reveal, .unblur, .colour");
    if (!button) return;
    if (button.classList.contains("reveal")) reveal(button.closest(".media-frame"));
    else if (button.classList.contains("unblur")) unblur(imageOf(button));
    else toggleColour(imageOf(button));
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
      reveal(document.querySelector(".media-frame:not([data-revealed])"));
      return;
    }
    if (e.key === "u") { unblur(lastRevealed); return; }
    if (e.key === "c") { toggleColour(lastRevealed); return; }
    if (FIELDS[e.key] && form) {
      var field = document.getElementById(FIELDS[e.key]);
      if (field) { e.preventDefault(); field.focus(); }
      return;
    }
    if (e.key === "Enter" && form && e.target.tagName !== "BUTTON") {
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
})();
