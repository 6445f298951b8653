// The search box's typeahead: completions from GET /suggest as the shopper types (English, 中文 or
// pinyin), chosen with the mouse or the keyboard (↓/↑ move, Enter searches the one chosen, Escape
// closes). Suggestion text goes into the page as text, never as HTML.
"use strict";

(function typeahead() {
  const input = document.getElementById("q");
  const list = document.getElementById("suggestions");
  const form = document.getElementById("search-form");
  const LIMIT = 8;
  const DELAY_MS = 60;
  let items = [];
  let active = -1;
  let timer = null;
  let asked = 0; // answers to older requests are dropped
  let available = true; // false once the index says it has no suggestions

  function close() {
    list.hidden = true;
    list.replaceChildren();
    items = [];
    active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function choose(text) {
    input.value = text;
    close();
    form.requestSubmit();
  }

  function highlight(index) {
    active = index;
    items.forEach((item, i) => item.setAttribute("aria-selected", i === index ? "true" : "false"));
    if (index >= 0) input.setAttribute("aria-activedescendant", items[index].id);
    else input.removeAttribute("aria-activedescendant");
  }

  function show(suggestions) {
    if (!suggestions.length) return close();
    items = suggestions.map((s, i) => {
      const item = document.createElement("li");
      item.id = "suggestion-" + i;
      item.className = "suggestion";
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      const text = document.createElement("span");
      text.textContent = s.text;
      const count = document.createElement("span");
      count.className = "count";
      count.textContent = s.results ? String(s.results) : "";
      item.append(text, count);
      item.addEventListener("mousedown", (event) => { event.preventDefault(); choose(s.text); });
      return item;
    });
    list.replaceChildren(...items);
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    active = -1;
  }

  async function ask() {
    const q = input.value;
    if (!available || !q.trim()) return close();
    const mine = ++asked;
    try {
      const response = await fetch("/suggest?" + new URLSearchParams({ q, limit: LIMIT }).toString());
      if (response.status === 404) { available = false; return close(); }
      if (!response.ok) return close();
      const body = await response.json();
      if (mine === asked && document.activeElement === input) show(body.suggestions);
    } catch (error) {
      close();
    }
  }

  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, DELAY_MS); });
  input.addEventListener("keydown", (event) => {
    if (list.hidden || !items.length) return;
    if (event.key === "ArrowDown") { event.preventDefault(); highlight((active + 1) % items.length); }
    else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active <= 0 ? items.length - 1 : active - 1); }
    else if (event.key === "Enter" && active >= 0) { event.preventDefault(); choose(items[active].firstChild.textContent); }
    else if (event.key === "Escape") { event.preventDefault(); close(); }
  });
  input.addEventListener("blur", close);
  form.addEventListener("submit", () => { clearTimeout(timer); asked++; close(); });
})();
