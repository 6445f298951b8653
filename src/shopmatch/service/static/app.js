// The shopmatch search page. Every piece of product or query text goes into the page through
// textContent or an attribute set from JS, never as HTML, so markup in a title stays text.
"use strict";

const PAGE_SIZE = 10;
// The search whose results are on the page: a click on one is sent to POST /events with its id.
let shownSearch = { id: null, offset: 0 };
const state = { q: "", offset: 0, spelling: true, brand: [], color: [], category: [], min_price: null, max_price: null, min_rating: null };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function readUrl() {
  const params = new URLSearchParams(location.search);
  state.q = params.get("q") || "";
  state.offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
  state.spelling = params.get("spelling") !== "false";
  state.brand = params.getAll("brand");
  state.color = params.getAll("color");
  state.category = params.get("category") ? params.get("category").split(" > ") : [];
  for (const key of ["min_price", "max_price", "min_rating"]) {
    const value = params.get(key);
    state[key] = value === null || value === "" ? null : Number(value);
  }
}

function queryString() {
  const params = new URLSearchParams();
  params.set("q", state.q);
  if (state.offset) params.set("offset", state.offset);
  if (!state.spelling) params.set("spelling", "false");
  state.brand.forEach((b) => params.append("brand", b));
  state.color.forEach((c) => params.append("color", c));
  if (state.category.length) params.set("category", state.category.join(" > "));
  for (const key of ["min_price", "max_price", "min_rating"]) if (state[key] !== null) params.set(key, state[key]);
  return params;
}

async function run(push = true) {
  document.getElementById("q").value = state.q;
  if (!state.q.trim()) return;
  const params = queryString();
  if (push) history.pushState(null, "", "?" + params.toString());
  params.set("k", PAGE_SIZE);
  const summary = document.getElementById("summary");
  summary.textContent = "Searching…";
  let body;
  try {
    const response = await fetch("/search?" + params.toString());
    body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
  } catch (error) {
    summary.textContent = "Search failed: " + error.message;
    return;
  }
  render(body);
}

function render(page) {
  const summary = document.getElementById("summary");
  const shown = page.results.length;
  summary.textContent = page.total
    ? `${page.total} matching products for “${page.query}” — showing ${page.offset + 1}–${page.offset + shown}` +
      ` (${page.took_ms} ms${page.reranked ? ", re-ranked" : ""})`
    : `No products match “${page.query}”.`;
  renderCorrection(page);
  const pinyin = page.understanding && page.understanding.pinyin;
  if (pinyin) summary.textContent += ` Read as “${pinyin.to}” (pinyin).`;
  shownSearch = { id: page.search_id || null, offset: page.offset };
  const list = document.getElementById("results");
  list.replaceChildren(...page.results.map(resultItem));
  renderFacets(page.facets, page.predicted_categories);
  document.getElementById("prev").disabled = page.offset === 0;
  document.getElementById("next").disabled = page.offset + shown >= page.total;
  document.getElementById("page-label").textContent = page.total ? `Page ${Math.floor(page.offset / PAGE_SIZE) + 1}` : "";
}

// "Showing results for X. Search instead for Y": Y's link searches the text as typed (spelling=false).
function renderCorrection(page) {
  const box = document.getElementById("correction");
  if (!page.corrected_query) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const asTyped = new URLSearchParams({ q: page.query, spelling: "false" });
  const link = el("a", { id: "search-instead", href: "?" + asTyped.toString() }, page.query);
  link.addEventListener("click", (event) => {
    event.preventDefault();
    Object.assign(state, { q: page.query, offset: 0, spelling: false });
    run();
  });
  box.replaceChildren("Showing results for ", el("strong", {}, page.corrected_query), ". Search instead for ", link, ".");
  box.hidden = false;
}

function stars(rating) {
  if (rating === undefined || rating === null) return null;
  return el("span", { class: "rating", title: `${rating} of 5` }, "★ " + Number(rating).toFixed(1));
}

function placeholder(product) {
  return el("div", { class: "no-image", "aria-hidden": "true" }, (product.title || "?").slice(0, 1));
}

// A product image, or the placeholder when there is none or it cannot load (the listener is set
// from this script: the Content-Security-Policy allows no inline onerror attribute).
function productImage(product) {
  if (typeof product.image !== "string" || !/^https?:\/\//.test(product.image)) return placeholder(product);
  const image = el("img", { alt: "", loading: "lazy" });
  image.addEventListener("error", () => image.replaceWith(placeholder(product)), { once: true });
  image.src = product.image;
  return image;
}

function randomId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes); // unlike crypto.randomUUID, also on plain http
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// Tell the service a shown product was clicked (positions are 1-based over the whole result list).
// keepalive: the request outlives the page if the click navigates away. Without --events (404) or
// without public clicks (401) the service refuses it, and nothing else happens.
function sendClick(productId, index) {
  if (!shownSearch.id) return;
  const event = {
    type: "click",
    event_id: randomId(),
    search_id: shownSearch.id,
    product_id: productId,
    position: shownSearch.offset + index + 1,
    ts: new Date().toISOString(),
  };
  fetch("/events", {
    method: "POST",
    keepalive: true,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ events: [event] }),
  }).catch(() => {});
}

function resultItem(result, index) {
  const product = result.product;
  const image = productImage(product);
  const price = typeof product.price === "number" ? el("span", { class: "price" }, "$" + product.price.toFixed(2)) : null;
  const why = el("button", { type: "button", class: "why", onclick: () => openExplanation(product.id) }, "Why this result?");
  const item = el(
    "li",
    { class: "result", "data-id": product.id },
    image,
    el(
      "div",
      { class: "details" },
      el("h3", { class: "title" }, product.title),
      el("p", { class: "meta" }, product.brand ? el("span", { class: "brand" }, product.brand) : null, price, stars(product.rating)),
      el("p", { class: "category" }, (product.category || []).join(" › ")),
      why,
    ),
  );
  item.addEventListener("click", (event) => {
    if (!event.target.closest(".why")) sendClick(product.id, index);
  });
  return item;
}

function facetGroup(title, items, render) {
  if (!items || !items.length) return null;
  return el("fieldset", { class: "facet" }, el("legend", {}, title), ...items.map(render));
}

function toggle(list, value) {
  const index = list.indexOf(value);
  if (index >= 0) list.splice(index, 1);
  else list.push(value);
}

function checkbox(name, item, list) {
  const id = `f-${name}-${item.value}`.replace(/[^A-Za-z0-9_-]/g, "_") + Math.random().toString(36).slice(2, 6);
  const box = el("input", { type: "checkbox", id, "data-facet": name, "data-value": item.value });
  box.checked = list.includes(item.value) || item.selected;
  box.addEventListener("change", () => { toggle(list, item.value); state.offset = 0; run(); });
  return el("div", { class: "facet-item" }, box, el("label", { for: id }, item.value, el("span", { class: "count" }, item.count)));
}

function link(label, count, onclick, selected) {
  return el("div", { class: "facet-item" },
    el("button", { type: "button", class: "facet-link" + (selected ? " selected" : ""), onclick }, label, el("span", { class: "count" }, count)));
}

function renderFacets(facets, predicted) {
  const groups = [];
  if (state.category.length || state.brand.length || state.color.length || state.min_price !== null || state.min_rating !== null) {
    groups.push(el("button", { type: "button", class: "clear", onclick: () => {
      Object.assign(state, { brand: [], color: [], category: [], min_price: null, max_price: null, min_rating: null, offset: 0 });
      run();
    } }, "Clear all filters"));
  }
  if (state.category.length) {
    groups.push(el("p", { class: "crumbs" }, "Category: " + state.category.join(" › ") + " ",
      el("button", { type: "button", class: "facet-link", onclick: () => { state.category.pop(); state.offset = 0; run(); } }, "(up)")));
  }
  if (!state.category.length) {  // the categories the query seems to ask for (category intent)
    groups.push(facetGroup("Suggested category", predicted, (item) =>
      link(item.path.join(" › "), `${Math.round(item.probability * 100)}%`,
        () => { state.category = item.path; state.offset = 0; run(); }, false)));
  }
  groups.push(facetGroup("Category", facets.category, (item) =>
    link(item.path[item.path.length - 1], item.count, () => { state.category = item.path; state.offset = 0; run(); }, false)));
  groups.push(facetGroup("Brand", facets.brand, (item) => checkbox("brand", item, state.brand)));
  groups.push(facetGroup("Color", facets.color, (item) => checkbox("color", item, state.color)));
  groups.push(facetGroup("Price", facets.price, (item) => {
    const label = item.max === null ? `$${item.min}+` : `$${item.min}–${item.max}`;
    const selected = state.min_price === item.min && state.max_price === item.max;
    return link(label, item.count, () => {
      if (selected) { state.min_price = null; state.max_price = null; }
      else { state.min_price = item.min; state.max_price = item.max; }
      state.offset = 0; run();
    }, selected);
  }));
  groups.push(facetGroup("Rating", facets.rating, (item) => {
    const selected = state.min_rating === item.min;
    return link(`${item.min}★ & up`, item.count, () => { state.min_rating = selected ? null : item.min; state.offset = 0; run(); }, selected);
  }));
  document.getElementById("facets").replaceChildren(...groups.filter(Boolean));
}

function highlighted(segments) {
  return segments.map((s) => (s.match ? el("mark", {}, s.text) : document.createTextNode(s.text)));
}

function effectList(title, tokens) {
  if (!tokens || !tokens.length) return null;
  const largest = Math.max(...tokens.map((t) => Math.abs(t.effect)), 1e-9);
  return el("div", { class: "attribution" }, el("h4", {}, title), ...tokens.map((t) => {
    const width = Math.round((Math.abs(t.effect) / largest) * 100);
    return el("div", { class: "effect " + (t.effect >= 0 ? "up" : "down") },
      el("span", { class: "token" }, t.token),
      el("span", { class: "bar" }, el("span", { class: "fill", "data-width": width })),
      el("span", { class: "value" }, (t.effect >= 0 ? "+" : "") + t.effect.toFixed(4)));
  }));
}

async function openExplanation(productId) {
  const panel = document.getElementById("explain-panel");
  const content = document.getElementById("explain-content");
  content.replaceChildren(el("p", {}, "Explaining…"));
  panel.hidden = false;
  let body;
  try {
    const asked = { q: state.q, id: productId };
    if (!state.spelling) asked.spelling = "false";
    const response = await fetch("/explain?" + new URLSearchParams(asked).toString());
    body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
  } catch (error) {
    content.replaceChildren(el("p", {}, "Could not explain: " + error.message));
    return;
  }
  const rows = Object.entries(body.retrievers || {}).map(([name, place]) =>
    el("tr", {}, el("th", { scope: "row" }, name), el("td", {}, place.rank ?? "–"), el("td", {}, place.score ?? "–")));
  const fields = Object.entries(body.fields || {}).map(([name, field]) =>
    el("div", { class: "field" }, el("h4", {}, name + (field.matched.length ? ` — matched: ${field.matched.join(", ")}` : "")),
      el("p", {}, ...highlighted(field.highlight))));
  const searched = body.corrected_query || state.q;
  const parts = [
    el("p", {}, body.rank ? `Rank ${body.rank} for “${searched}”.` : `Not in the top results for “${searched}”.`),
    body.corrected_query ? el("p", { class: "spelling" }, `Spelling corrected: “${state.q}” → “${body.corrected_query}”.`) : null,
    el("table", { class: "places" }, el("thead", {}, el("tr", {}, el("th", {}, "stage"), el("th", {}, "rank"), el("th", {}, "score"))), el("tbody", {}, ...rows)),
    el("h3", {}, "Matched terms"),
    Object.keys(body.terms || {}).length
      ? el("p", {}, Object.entries(body.terms).map(([t, s]) => `${t} (${s})`).join(", "))
      : el("p", {}, "No query term occurs in this product (a semantic match)."),
    ...fields,
  ];
  if (body.attribution) {
    parts.push(el("h3", {}, `What moved the ${body.attribution.model} score (${body.attribution.score.toFixed(4)})`));
    parts.push(effectList("Query words", body.attribution.query));
    parts.push(effectList("Title words", body.attribution.product));
  }
  content.replaceChildren(...parts.filter(Boolean));
  for (const fill of content.querySelectorAll(".fill")) fill.style.width = fill.dataset.width + "%";
  document.getElementById("explain-close").focus();
}

document.getElementById("explain-close").addEventListener("click", () => { document.getElementById("explain-panel").hidden = true; });
document.addEventListener("keydown", (event) => { if (event.key === "Escape") document.getElementById("explain-panel").hidden = true; });
document.getElementById("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.q = document.getElementById("q").value;
  Object.assign(state, { offset: 0, spelling: true, brand: [], color: [], category: [], min_price: null, max_price: null, min_rating: null });
  run();
});
document.getElementById("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE_SIZE); run(); });
document.getElementById("next").addEventListener("click", () => { state.offset += PAGE_SIZE; run(); });
window.addEventListener("popstate", () => { readUrl(); run(false); });
readUrl();
run(false);
