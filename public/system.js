// System page: restore uploads the chosen backup as the request body, then waits for Busbar to come back.
(function () {
  "use strict";
  const L = window.BusbarLive;
  const t = (k, p) => (L ? L.t(k, p) : k);
  const form = document.getElementById("restore-form");
  const status = document.getElementById("restore-status");
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = document.getElementById("restore-file").files[0];
    if (!file) return;
    if (!confirm(t("system.restoreConfirm", { name: file.name }))) return;
    status.textContent = t("system.restoreChecking");
    status.className = "";
    let r;
    try {
      r = await fetch("/admin/system/restore", {
        method: "POST",
        headers: { "x-csrf-token": form.dataset.csrf, "content-type": "application/octet-stream" },
        body: file,
      });
    } catch (err) {
      status.textContent = String(err);
      status.className = "error";
      return;
    }
    const body = await r.json().catch(() => ({}));
    if (!r.ok) {
      status.textContent = t("system.restoreRefused", { error: body.error || r.status });
      status.className = "error";
      return;
    }
    status.textContent = t("system.restoreRestarting");
    // Busbar restarts on the restored data: wait for it, then reload (the session may be the restored one's).
    await new Promise((res) => setTimeout(res, 1500));
    for (let i = 0; i < 120; i++) {
      try {
        const h = await fetch("/healthz", { cache: "no-store" });
        if (h.ok) break;
      } catch {}
      await new Promise((res) => setTimeout(res, 1000));
    }
    location.href = "/admin/system?restored=1";
  });
})();
