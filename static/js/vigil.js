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

  // Media is not fetched until the reviewer asks for it: the fetch is what the server logs as a view.
  function reveal(frame) {
    if (!frame || frame.dataset.revealed) return;
    var img = document.createElement("img");
    img.src = frame.dataset.src;
    img.alt = "Revealed media";
    img.className = "revealed greyscale";
    img.addEventListener("click", function () { img.classList.toggle("greyscale"); });
    img.title = "Click to toggle colour";
    frame.replaceChildren(img);
    frame.dataset.revealed = "1";
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest(".reveal");
    if (button) reveal(button.closest(".media-frame"));
  });

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    var form = document.getElementById("decision-form");
    if (e.key === "r") {
      reveal(document.querySelector(".media-frame:not([data-revealed])"));
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
