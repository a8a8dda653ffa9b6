// hris: the little JavaScript the pages use besides htmx. It is served from
// /static because the CSP allows scripts from our own origin only, and
// every page works without it.
(function () {
  "use strict";

  // A form that posts is sent once: a double click on its button, or a
  // second Enter while the first submission is on its way, does nothing.
  // (Without JavaScript, the idempotency key of create forms and the
  // version of edit forms keep a second submission harmless.)
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post" || ev.defaultPrevented) {
      return;
    }
    if (form.dataset.submitting) {
      ev.preventDefault();
      return;
    }
    form.dataset.submitting = "true";
    form.setAttribute("aria-busy", "true");
    // Disabled after the browser has read the form, so that a named
    // submit button still sends its value.
    setTimeout(function () {
      form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (b) {
        b.disabled = true;
      });
    }, 0);
  });

  // A form sent back with mistakes: start at the first one. Its message
  // is read out with it (aria-describedby).
  document.addEventListener("DOMContentLoaded", function () {
    var bad = document.querySelector('form [aria-invalid="true"]');
    if (bad && (!document.activeElement || document.activeElement === document.body)) {
      bad.focus();
    }
  });

  // The employee picker: choosing one of the matches empties the search
  // box, so that the form sends the choice and not the name typed (which
  // the server would look up again; that is how it works without
  // JavaScript).
  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (!(t instanceof HTMLInputElement) || t.type !== "radio" || !t.closest(".picker")) {
      return;
    }
    var box = t.closest(".picker").querySelector("input[type=search]");
    if (box) {
      box.value = "";
    }
  });

  // Back to a page restored from the back/forward cache: its forms work
  // again.
  window.addEventListener("pageshow", function (ev) {
    if (!ev.persisted) {
      return;
    }
    document.querySelectorAll("form[data-submitting]").forEach(function (form) {
      delete form.dataset.submitting;
      form.removeAttribute("aria-busy");
      form.querySelectorAll("button[disabled]").forEach(function (b) {
        b.disabled = false;
      });
    });
  });
})();
