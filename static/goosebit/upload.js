// Software upload with a progress bar: the add form is sent by XMLHttpRequest so the browser
// reports upload progress; the server's answer (the list after a redirect, or the form with the
// parser's error) then replaces the page as a normal submit would.
(function () {
  "use strict";
  const form = document.getElementById("software_form");
  const box = document.getElementById("gb-upload");
  if (!form || !box) return;
  form.addEventListener("submit", (event) => {
    const file = form.querySelector("input[type=file]");
    if (!file || !file.files.length) return; // adding by URL: an ordinary submit
    event.preventDefault();
    const bar = box.querySelector("progress");
    const label = box.querySelector(".gb-upload__label");
    const buttons = form.querySelectorAll("[type=submit]");
    buttons.forEach((button) => { button.disabled = true; });
    box.hidden = false;
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || window.location.href);
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      bar.value = Math.round((e.loaded * 100) / e.total);
      label.textContent = "Uploading… " + bar.value + "%";
    };
    xhr.upload.onload = () => { bar.removeAttribute("value"); label.textContent = "Checking the package…"; };
    xhr.onload = () => {
      history.replaceState(null, "", xhr.responseURL || window.location.href);
      document.open();
      document.write(xhr.responseText);
      document.close();
    };
    xhr.onerror = () => {
      label.textContent = "The upload failed (network error). Try again.";
      buttons.forEach((button) => { button.disabled = false; });
    };
    xhr.send(new FormData(form, event.submitter));
  });
})();
