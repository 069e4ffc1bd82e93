// Each figure in a page links to its full-size image: one click enlarges it.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".cell_output img, article figure img").forEach((img) => {
    if (img.closest("a")) return;
    const link = document.createElement("a");
    link.href = img.src;
    link.className = "figure-enlarge";
    link.title = "open the full-size image";
    img.replaceWith(link);
    link.appendChild(img);
  });
});
