// The API reference page: the endpoints of /openapi.json, rendered without any third-party code
// (FastAPI's /docs loads Swagger UI from a CDN; an offline service serves its own page).
"use strict";

function node(tag, className, ...children) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  for (const child of children) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function refName(schema) {
  return schema && schema.$ref ? schema.$ref.split("/").pop() : null;
}

function typeOf(schema) {
  if (!schema) return "";
  if (schema.$ref) return refName(schema);
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(" | ");
  if (schema.type === "array") return typeOf(schema.items) + "[]";
  return schema.type || "";
}

function parameters(operation) {
  const rows = (operation.parameters || []).map((p) =>
    node("tr", null, node("td", null, node("code", null, p.name)), node("td", null, p.in),
      node("td", null, typeOf(p.schema)), node("td", null, p.required ? "required" : ""),
      node("td", null, p.description || (p.schema && p.schema.description) || "")));
  if (!rows.length) return null;
  const head = node("tr", null, ...["name", "in", "type", "", "description"].map((h) => node("th", null, h)));
  return node("table", "places", node("thead", null, head), node("tbody", null, ...rows));
}

function requestBody(operation) {
  const content = operation.requestBody && operation.requestBody.content;
  if (!content) return null;
  const [type, media] = Object.entries(content)[0];
  return node("p", null, "Body (", type, "): ", node("code", null, typeOf(media.schema)));
}

function schemaSection(name, schema) {
  const required = new Set(schema.required || []);
  const rows = Object.entries(schema.properties || {}).map(([field, property]) =>
    node("tr", null, node("td", null, node("code", null, field)), node("td", null, typeOf(property)),
      node("td", null, required.has(field) ? "required" : ""), node("td", null, property.description || "")));
  return node("div", "field", node("h3", null, name), rows.length ? node("table", "places", node("tbody", null, ...rows)) : null);
}

async function render() {
  const target = document.getElementById("endpoints");
  let spec;
  try {
    const response = await fetch("/openapi.json");
    if (!response.ok) throw new Error(response.statusText);
    spec = await response.json();
  } catch (error) {
    target.textContent = "Could not load /openapi.json: " + error.message;
    return;
  }
  document.getElementById("api-title").textContent = `${spec.info.title} ${spec.info.version} — HTTP API`;
  const parts = [];
  for (const [path, operations] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      parts.push(node("article", "endpoint",
        node("h2", null, node("span", "method", method.toUpperCase()), " ", node("code", null, path)),
        operation.summary ? node("p", null, operation.summary) : null,
        operation.description ? node("p", "description", operation.description) : null,
        parameters(operation),
        requestBody(operation)));
    }
  }
  const schemas = Object.entries((spec.components && spec.components.schemas) || {})
    .filter(([name]) => !name.includes("ValidationError"));
  if (schemas.length) parts.push(node("h2", null, "Schemas"), ...schemas.map(([name, schema]) => schemaSection(name, schema)));
  target.replaceChildren(...parts);
}

render();
