// The inbox's security-key pages (docs/officer-guide.md, "Security keys"): run the WebAuthn
// ceremonies the server described in the form's data-options, put the answers (and the PRF
// output, which unwraps the officer's second factor) in the form's hidden fields, submit.
// No library and nothing from elsewhere: the server checks everything (py_webauthn).
"use strict";
(function () {
  function bytes(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(b64 + "===".slice((b64.length + 3) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
  }

  function text(buffer) {
    let raw = "";
    for (const b of new Uint8Array(buffer)) raw += String.fromCharCode(b);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // The JSON py_webauthn reads (the PRF output travels separately, in its own field).
  function answer(credential) {
    const r = credential.response;
    const out = {
      id: credential.id,
      rawId: text(credential.rawId),
      type: credential.type,
      response: { clientDataJSON: text(r.clientDataJSON) },
      clientExtensionResults: {},
    };
    if (r.attestationObject) {
      out.response.attestationObject = text(r.attestationObject);
    } else {
      out.response.authenticatorData = text(r.authenticatorData);
      out.response.signature = text(r.signature);
      if (r.userHandle) out.response.userHandle = text(r.userHandle);
    }
    return JSON.stringify(out);
  }

  function prfOutput(credential) {
    const prf = credential.getClientExtensionResults().prf;
    return prf && prf.results && prf.results.first ? text(prf.results.first) : "";
  }

  function assertion(request, salts) {
    const evalByCredential = {};
    for (const [id, salt] of Object.entries(salts)) evalByCredential[id] = { first: bytes(salt) };
    return navigator.credentials.get({
      publicKey: {
        challenge: bytes(request.challenge),
        rpId: request.rpId,
        timeout: request.timeout,
        userVerification: request.userVerification,
        allowCredentials: request.allowCredentials.map((c) => ({ type: c.type, id: bytes(c.id) })),
        extensions: { prf: { evalByCredential } },
      },
    });
  }

  function creation(reg) {
    return navigator.credentials.create({
      publicKey: {
        rp: reg.rp,
        user: { id: bytes(reg.user.id), name: reg.user.name, displayName: reg.user.displayName },
        challenge: bytes(reg.challenge),
        pubKeyCredParams: reg.pubKeyCredParams,
        timeout: reg.timeout,
        excludeCredentials: (reg.excludeCredentials || []).map((c) => ({ type: c.type, id: bytes(c.id) })),
        authenticatorSelection: reg.authenticatorSelection,
        attestation: reg.attestation,
        extensions: { prf: {} },
      },
    });
  }

  class NoPrf extends Error {}

  async function signIn(form, options) {
    const got = await assertion(options.request, options.prf_salts);
    const prf = prfOutput(got);
    if (!prf) throw new NoPrf();
    form.elements.assertion.value = answer(got);
    form.elements.prf.value = prf;
  }

  async function enrol(form, options) {
    const created = await creation(options.registration);
    const id = text(created.rawId);
    const request = {
      challenge: options.assertion_challenge,
      rpId: options.rp_id,
      timeout: options.registration.timeout,
      userVerification: "required",
      allowCredentials: [{ type: "public-key", id }],
    };
    const got = await assertion(request, { [id]: options.prf_salt });
    const prf = prfOutput(got);
    if (!prf) throw new NoPrf();
    form.elements.attestation.value = answer(created);
    form.elements.assertion.value = answer(got);
    form.elements.prf.value = prf;
  }

  function wire(form, ceremony) {
    if (!form) return;
    const problem = document.getElementById("key-problem");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      problem.hidden = true;
      try {
        await ceremony(form, JSON.parse(form.dataset.options));
        form.submit();
      } catch (error) {
        problem.textContent = error instanceof NoPrf ? form.dataset.noPrf : form.dataset.failed;
        problem.hidden = false;
        button.disabled = false;
      }
    });
  }

  wire(document.getElementById("key-sign-in"), signIn);
  wire(document.getElementById("key-enrol"), enrol);
})();
