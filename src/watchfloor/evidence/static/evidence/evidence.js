// A revealed item hides itself again when its reveal ends (the server stops serving it
// then too); "always ask" adds a confirmation before each reveal.
document.addEventListener("DOMContentLoaded", () => {
  for (const stage of document.querySelectorAll("[data-reveal-ends]")) {
    const ends = Date.parse(stage.dataset.revealEnds);
    const hide = () => {
      const blurred = stage.dataset.blurred;
      stage.innerHTML = "";
      const note = document.createElement("p");
      note.textContent = "The reveal has ended.";
      stage.appendChild(note);
      if (blurred) {
        const img = document.createElement("img");
        img.src = blurred;
        img.alt = "blurred again";
        img.className = "evidence-blurred";
        stage.appendChild(img);
      }
    };
    const left = ends - Date.now();
    if (left <= 0) hide(); else setTimeout(hide, left);
  }
  for (const form of document.querySelectorAll("form.confirm-reveal")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm("Reveal this item in the clear?")) event.preventDefault();
    });
  }
});
