// Portcullis passkeys: the one script, served from this origin (CSP
// script-src 'self'). A form marked data-webauthn="get" or "create" gets a
// working button: the script asks the form's data-options URL for the
// ceremony's options (posting the form's own fields, with its CSRF token),
// runs navigator.credentials, puts the answer (toJSON) in the form's
// `credential` field and submits the form. Without this script, or without
// WebAuthn in the browser, the buttons stay hidden and every other form works.
(function () {
  "use strict";
  var supported = window.PublicKeyCredential &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function" &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function";
  if (!supported) {
    return;
  }
  function say(form, text) {
    var out = form.querySelector("[data-webauthn-message]");
    if (out) {
      out.textContent = text;
      out.hidden = false;
    }
  }
  async function run(form) {
    var body = new URLSearchParams(new FormData(form));
    var res = await fetch(form.dataset.options, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    });
    var data = await res.json();
    if (!res.ok) {
      say(form, data.error_description || "Passkeys are not available right now.");
      return;
    }
    if (form.elements.ceremony) {
      form.elements.ceremony.value = data.ceremony || "";
    }
    var credential;
    if (form.dataset.webauthn === "create") {
      credential = await navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(data.publicKey)
      });
    } else {
      credential = await navigator.credentials.get({
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(data.publicKey)
      });
    }
    form.elements.credential.value = JSON.stringify(credential.toJSON());
    form.submit();
  }
  document.querySelectorAll("form[data-webauthn]").forEach(function (form) {
    var button = form.querySelector("[data-webauthn-start]");
    if (!button) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function (event) {
      event.preventDefault();
      run(form).catch(function (error) {
        say(form, "The passkey was not used (" + error.name + "). Try again, or sign in another way.");
      });
    });
  });
})();
