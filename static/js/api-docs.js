// Renders /api/v1/openapi.json as a readable page: operations by tag, parameters, bodies and responses.
// No framework, no CDN, no inline script (CSP script-src 'self'); text goes in with textContent only.
(function () {
  "use strict";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function resolve(spec, obj) {
    var seen = 0;
    while (obj && obj.$ref && seen < 20) {
      var parts = obj.$ref.replace(/^#\//, "").split("/");
      obj = parts.reduce(function (acc, key) { return acc ? acc[key] : undefined; }, spec);
      seen += 1;
    }
    return obj || {};
  }

  function refName(obj) {
    return obj && obj.$ref ? obj.$ref.split("/").pop() : null;
  }

  // A compact one-line type: "string", "integer [1..200]", "array of Voucher", "Voucher".
  function typeOf(spec, schema) {
    if (!schema) return "";
    var name = refName(schema);
    if (name) return name;
    if (schema.type === "array") return "array of " + typeOf(spec, schema.items);
    var text = schema.type || (schema.allOf ? "object" : "any");
    if (schema.format) text += " (" + schema.format + ")";
    if (schema.enum) text += ": " + schema.enum.join(" | ");
    if (schema.minimum !== undefined || schema.maximum !== undefined) {
      text += " [" + (schema.minimum !== undefined ? schema.minimum : "") + ".." +
        (schema.maximum !== undefined ? schema.maximum : "") + "]";
    }
    if (schema.maxLength !== undefined) text += " (max " + schema.maxLength + " chars)";
    if (schema.nullable) text += ", nullable";
    return text;
  }

  function propertiesTable(spec, schema) {
    schema = resolve(spec, schema);
    var props = schema.properties || {};
    var required = schema.required || [];
    var table = el("table", "table");
    var head = el("tr");
    ["Field", "Type", "Required", "Description"].forEach(function (h) { head.appendChild(el("th", null, h)); });
    table.appendChild(el("thead")).appendChild(head);
    var body = el("tbody");
    Object.keys(props).forEach(function (key) {
      var prop = props[key];
      var row = el("tr");
      row.appendChild(el("td", "nowrap")).appendChild(el("code", null, key));
      row.appendChild(el("td", null, typeOf(spec, prop)));
      row.appendChild(el("td", null, required.indexOf(key) >= 0 ? "yes" : ""));
      row.appendChild(el("td", "muted", prop.description || resolve(spec, prop).description || ""));
      body.appendChild(row);
    });
    table.appendChild(body);
    return table;
  }

  function parametersTable(spec, params) {
    var table = el("table", "table");
    var head = el("tr");
    ["Parameter", "In", "Type", "Required", "Description"].forEach(function (h) { head.appendChild(el("th", null, h)); });
    table.appendChild(el("thead")).appendChild(head);
    var body = el("tbody");
    params.forEach(function (p) {
      p = resolve(spec, p);
      var row = el("tr");
      row.appendChild(el("td", "nowrap")).appendChild(el("code", null, p.name));
      row.appendChild(el("td", null, p.in));
      row.appendChild(el("td", null, typeOf(spec, p.schema)));
      row.appendChild(el("td", null, p.required ? "yes" : ""));
      row.appendChild(el("td", "muted", p.description || (p.schema && p.schema.description) || ""));
      body.appendChild(row);
    });
    table.appendChild(body);
    return table;
  }

  function operation(spec, path, method, op, pathParams) {
    var card = el("section", "card");
    card.id = "op-" + (op.operationId || (method + path).replace(/[^A-Za-z0-9]+/g, "-"));
    var title = el("h3");
    title.appendChild(el("span", "badge badge-" + (method === "get" ? "info" : "warn"), method.toUpperCase()));
    title.appendChild(document.createTextNode(" "));
    title.appendChild(el("code", null, path));
    card.appendChild(title);
    if (op.summary) card.appendChild(el("p", null, op.summary));
    if (op.description) card.appendChild(el("p", "muted", op.description));
    var params = (pathParams || []).concat(op.parameters || []);
    if (params.length) {
      card.appendChild(el("h4", null, "Parameters"));
      card.appendChild(parametersTable(spec, params));
    }
    if (op.requestBody) {
      var content = resolve(spec, op.requestBody).content || {};
      Object.keys(content).forEach(function (type) {
        var schema = content[type].schema;
        card.appendChild(el("h4", null, "Body (" + type + "): " + (refName(schema) || typeOf(spec, schema))));
        card.appendChild(propertiesTable(spec, schema));
      });
    }
    card.appendChild(el("h4", null, "Responses"));
    var list = el("ul");
    Object.keys(op.responses || {}).forEach(function (status) {
      var resp = resolve(spec, op.responses[status]);
      var item = el("li");
      item.appendChild(el("strong", null, status + " "));
      item.appendChild(document.createTextNode(resp.description || ""));
      var content = resp.content || {};
      Object.keys(content).forEach(function (type) {
        var name = refName(content[type].schema) || typeOf(spec, content[type].schema);
        item.appendChild(el("span", "muted", " — " + type + (name ? ": " + name : "")));
      });
      list.appendChild(item);
    });
    card.appendChild(list);
    return card;
  }

  function schemas(spec) {
    var wrap = el("section");
    wrap.id = "schemas";
    wrap.appendChild(el("h2", null, "Schemas"));
    var all = (spec.components && spec.components.schemas) || {};
    Object.keys(all).sort().forEach(function (name) {
      var card = el("section", "card");
      card.id = "schema-" + name;
      card.appendChild(el("h3", null, name));
      if (all[name].description) card.appendChild(el("p", "muted", all[name].description));
      card.appendChild(propertiesTable(spec, all[name]));
      wrap.appendChild(card);
    });
    return wrap;
  }

  function render(spec, target) {
    target.textContent = "";
    if (spec.info && spec.info.description) target.appendChild(el("p", null, spec.info.description));
    var byTag = {};
    Object.keys(spec.paths || {}).sort().forEach(function (path) {
      var item = spec.paths[path];
      ["get", "post", "put", "patch", "delete"].forEach(function (method) {
        if (!item[method]) return;
        var tag = (item[method].tags || ["other"])[0];
        (byTag[tag] = byTag[tag] || []).push([path, method, item[method], item.parameters]);
      });
    });
    var toc = el("ul");
    Object.keys(byTag).sort().forEach(function (tag) {
      var link = el("a", null, tag);
      link.href = "#tag-" + tag;
      toc.appendChild(el("li")).appendChild(link);
    });
    target.appendChild(toc);
    Object.keys(byTag).sort().forEach(function (tag) {
      var section = el("section");
      section.id = "tag-" + tag;
      section.appendChild(el("h2", null, tag));
      var meta = (spec.tags || []).filter(function (t) { return t.name === tag; })[0];
      if (meta && meta.description) section.appendChild(el("p", "muted", meta.description));
      byTag[tag].forEach(function (entry) {
        section.appendChild(operation(spec, entry[0], entry[1], entry[2], entry[3]));
      });
      target.appendChild(section);
    });
    target.appendChild(schemas(spec));
  }

  document.addEventListener("DOMContentLoaded", function () {
    var main = document.getElementById("main");
    var target = document.getElementById("api-docs-body");
    if (!main || !target) return;
    fetch(main.getAttribute("data-spec"), { credentials: "omit", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (spec) { render(spec, target); })
      .catch(function (err) { target.textContent = "Could not load the specification: " + err.message; });
  });
}());
