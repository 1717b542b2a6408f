// The local card preview: renders the add-on's card JSON roughly as Calendar does,
// and turns every click into a signed event object POSTed to the real endpoint.
// Card text may carry the little HTML that cards allow (<b>, <font color>, ...);
// it is rebuilt from an inert parse with only those tags, never assigned as HTML.
"use strict";

const state = {
  stack: [],          // the card navigation stack, as the host keeps it
  user: new URLSearchParams(location.search).get("user") || "",
  timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
  locale: navigator.language || "en-US",
  busy: 0,
  latest: 0,          // only the newest request's answer is drawn (a slow old one must not win)
};

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// ------------------------------------------------------------------ safe card text

const ALLOWED = new Set(["B", "I", "U", "S", "STRIKE", "BR", "FONT", "A"]);

function safeText(markup) {
  const out = document.createDocumentFragment();
  const doc = new DOMParser().parseFromString(`<body>${markup || ""}</body>`, "text/html");
  const copy = (from, to) => {
    for (const node of from.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) {
        to.appendChild(document.createTextNode(node.textContent));
      } else if (node.nodeType === Node.ELEMENT_NODE && ALLOWED.has(node.tagName)) {
        let made;
        if (node.tagName === "FONT") {
          made = el("span");
          const color = node.getAttribute("color") || "";
          if (/^#[0-9a-fA-F]{6}$/.test(color)) made.style.color = color;
        } else if (node.tagName === "A") {
          made = el("a");
          const href = node.getAttribute("href") || "";
          if (/^https:\/\//.test(href)) { made.href = href; made.target = "_blank"; made.rel = "noopener"; }
        } else {
          made = el(node.tagName.toLowerCase());
        }
        copy(node, made);
        to.appendChild(made);
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        copy(node, to);   // unknown tag: keep its text, drop the tag
      }
    }
  };
  copy(doc.body, out);
  return out;
}

function withText(node, markup) {
  node.appendChild(safeText(markup));
  return node;
}

// ------------------------------------------------------------------ icons

// Built-in icons (Icon.knownIcon) drawn as small line icons, as Calendar draws its own;
// an icon Calendar would not draw (an unknown name, a Chat-only materialIcon) gets none.
const SVG = "http://www.w3.org/2000/svg";
const ICONS = {
  CLOCK: [["circle", { cx: 12, cy: 12, r: 9 }], ["polyline", { points: "12,7 12,12 16,14" }]],
  INVITE: [["rect", { x: 3, y: 5, width: 18, height: 16, rx: 2 }], ["line", { x1: 3, y1: 10, x2: 21, y2: 10 }],
    ["line", { x1: 8, y1: 3, x2: 8, y2: 7 }], ["line", { x1: 16, y1: 3, x2: 16, y2: 7 }]],
  MULTIPLE_PEOPLE: [["circle", { cx: 9, cy: 8, r: 3 }], ["path", { d: "M3 20c0-3.3 2.7-6 6-6s6 2.7 6 6" }],
    ["circle", { cx: 17, cy: 9, r: 2.5 }], ["path", { d: "M16 14.2c2.9.3 5 2.7 5 5.8" }]],
  PERSON: [["circle", { cx: 12, cy: 8, r: 4 }], ["path", { d: "M4 21c0-4.4 3.6-8 8-8s8 3.6 8 8" }]],
  BOOKMARK: [["path", { d: "M6 3h12v18l-6-4-6 4z" }]],
  DESCRIPTION: [["path", { d: "M6 2h8l5 5v15H6z" }], ["line", { x1: 9, y1: 12, x2: 16, y2: 12 }],
    ["line", { x1: 9, y1: 16, x2: 16, y2: 16 }]],
  EMAIL: [["rect", { x: 3, y: 5, width: 18, height: 14, rx: 2 }], ["polyline", { points: "3,7 12,13 21,7" }]],
  STAR: [["polygon", { points: "12,3 14.8,9 21,9.5 16.2,13.6 17.8,20 12,16.5 6.2,20 7.8,13.6 3,9.5 9.2,9" }]],
  VIDEO_CAMERA: [["rect", { x: 3, y: 6, width: 13, height: 12, rx: 2 }], ["polygon", { points: "16,10 21,7 21,17 16,14" }]],
  MAP_PIN: [["path", { d: "M12 21s-7-7-7-12a7 7 0 0 1 14 0c0 5-7 12-7 12z" }], ["circle", { cx: 12, cy: 9, r: 2.5 }]],
};

function renderIcon(icon) {
  if (!icon) return null;
  if (icon.knownIcon && ICONS[icon.knownIcon]) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "card-icon");
    svg.setAttribute("aria-hidden", "true");
    svg.dataset.icon = icon.knownIcon;
    for (const [tag, attrs] of ICONS[icon.knownIcon]) {
      const part = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) part.setAttribute(k, String(v));
      svg.appendChild(part);
    }
    return svg;
  }
  if (icon.iconUrl && /^https:\/\//.test(icon.iconUrl)) {
    const img = el("img", "card-icon");
    img.src = icon.iconUrl;
    img.alt = icon.altText || "";
    return img;
  }
  return null;
}

// ------------------------------------------------------------------ rendering

function renderButton(spec) {
  // Add-on cards mark the primary button with a fill color (Button.type is Chat-only).
  const b = el("button", "btn" + (spec.color ? " filled" : ""), spec.text);
  b.type = "button";
  b.disabled = !!spec.disabled;
  b.addEventListener("click", () => onClick(spec.onClick));
  return b;
}

function renderSelection(spec) {
  const box = el("div", "field");
  box.appendChild(el("span", null, spec.label));
  const items = spec.items || [];
  if ((spec.type || "CHECK_BOX") === "DROPDOWN") {
    const select = el("select");
    select.name = spec.name;
    for (const item of items) {
      const opt = el("option", null, item.text);
      opt.value = item.value;
      opt.selected = !!item.selected;
      select.appendChild(opt);
    }
    box.appendChild(select);
    return box;
  }
  const inputType = spec.type === "RADIO_BUTTON" ? "radio" : "checkbox";
  for (const item of items) {
    const row = el("label", "choice");
    const input = el("input");
    input.type = inputType;
    input.name = spec.name;
    input.value = item.value;
    input.checked = !!item.selected;
    if (spec.type === "SWITCH") input.setAttribute("role", "switch");
    row.appendChild(input);
    row.appendChild(el("span", null, item.text));
    box.appendChild(row);
  }
  return box;
}

function renderWidget(w) {
  const wrap = el("div", "widget");
  if (w.textParagraph) {
    wrap.appendChild(withText(el("div", "paragraph"), w.textParagraph.text));
  } else if (w.decoratedText) {
    const d = w.decoratedText;
    const row = el("div", "decorated");
    const icon = renderIcon(d.startIcon);
    if (icon) row.appendChild(icon);
    const body = el("div", "body");
    if (d.topLabel) body.appendChild(withText(el("div", "top-label"), d.topLabel));
    body.appendChild(withText(el("div", "text"), d.text));
    if (d.bottomLabel) body.appendChild(withText(el("div", "bottom-label"), d.bottomLabel));
    row.appendChild(body);
    if (d.button) row.appendChild(renderButton(d.button));
    if (d.onClick) {
      row.classList.add("clickable");
      row.tabIndex = 0;
      row.setAttribute("role", "button");
      row.addEventListener("click", (e) => { if (!e.target.closest("button")) onClick(d.onClick); });
    }
    wrap.appendChild(row);
  } else if (w.buttonList) {
    const list = el("div", "button-list");
    for (const b of w.buttonList.buttons || []) list.appendChild(renderButton(b));
    wrap.appendChild(list);
  } else if (w.divider) {
    wrap.appendChild(el("hr", "divider"));
  } else if (w.selectionInput) {
    wrap.appendChild(renderSelection(w.selectionInput));
  } else if (w.textInput) {
    const t = w.textInput;
    const box = el("label", "field");
    box.appendChild(el("span", null, t.label));
    const input = el("input");
    input.type = "text";
    input.name = t.name;
    input.value = t.value || "";
    box.appendChild(input);
    if (t.hintText) box.appendChild(el("span", "hint-text", t.hintText));
    wrap.appendChild(box);
  } else {
    wrap.appendChild(el("div", "paragraph", `[${Object.keys(w).join(", ")} is not drawn by the preview]`));
  }
  return wrap;
}

function renderCard(card) {
  const node = el("form", "card");
  node.dataset.cardName = card.name || "";
  node.addEventListener("submit", (e) => e.preventDefault());
  if (card.header) {
    const head = el("div", "card-header");
    head.appendChild(el("div", "card-title", card.header.title));
    if (card.header.subtitle) head.appendChild(el("div", "card-subtitle", card.header.subtitle));
    node.appendChild(head);
  }
  for (const section of card.sections || []) {
    const sec = el("section", "section");
    if (section.header) sec.appendChild(withText(el("div", "section-header"), section.header));
    for (const w of section.widgets || []) sec.appendChild(renderWidget(w));
    node.appendChild(sec);
  }
  if (card.fixedFooter) {
    const foot = el("div", "footer");
    if (card.fixedFooter.primaryButton) {
      const p = renderButton(card.fixedFooter.primaryButton);
      p.classList.add("filled");
      foot.appendChild(p);
    }
    if (card.fixedFooter.secondaryButton) foot.appendChild(renderButton(card.fixedFooter.secondaryButton));
    node.appendChild(foot);
  }
  return node;
}

function draw() {
  const host = $("card-host");
  host.replaceChildren();
  const top = state.stack[state.stack.length - 1];
  if (top) host.appendChild(renderCard(top));
  $("nav-back").hidden = state.stack.length < 2;
}

// ------------------------------------------------------------------ talking to the add-on

function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 6000);
}

function busy(delta) {
  state.busy += delta;
  $("spinner").hidden = state.busy <= 0;
  document.body.dataset.busy = String(state.busy > 0);
}

async function getJson(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const resp = await fetch(path, init);
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(data.message || `HTTP ${resp.status}`);
  return data;
}

function formInputs() {
  const form = $("card-host").querySelector("form");
  const values = {};
  if (!form) return values;
  for (const input of form.querySelectorAll("input[name], select[name]")) {
    values[input.name] = values[input.name] || [];
    if (input.type === "checkbox" || input.type === "radio") {
      if (input.checked) values[input.name].push(input.value);
    } else {
      values[input.name].push(input.value);
    }
  }
  return values;
}

async function send(trigger, extra) {
  const mine = ++state.latest;
  busy(1);
  try {
    const signed = await getJson("/preview/event-object", {
      trigger, user: state.user, timeZone: state.timeZone, locale: state.locale, ...extra,
    });
    const resp = await fetch(signed.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Authorization": signed.authorization },
      body: JSON.stringify(signed.event),
    });
    const payload = await resp.json().catch(() => ({}));
    if (mine !== state.latest) return;
    $("raw-json").textContent = JSON.stringify(payload, null, 2);
    if (!resp.ok) { toast(`The add-on answered HTTP ${resp.status}: ${payload.message || ""}`); return; }
    apply(payload, trigger !== "action");
  } catch (err) {
    toast(`Preview error: ${err.message}`);
  } finally {
    busy(-1);
  }
}

function apply(payload, fresh) {
  if (payload.requesting_google_scopes) {
    toast("Workspace would now ask the user to grant the add-on's scopes.");
    return;
  }
  const action = payload.action || (payload.renderActions && payload.renderActions.action) || {};
  if (fresh) state.stack = [];
  for (const nav of action.navigations || []) {
    if (nav.pushCard) state.stack.push(nav.pushCard);
    else if (nav.updateCard) {
      if (state.stack.length) state.stack[state.stack.length - 1] = nav.updateCard;
      else state.stack.push(nav.updateCard);
    } else if (nav.pop) { if (state.stack.length > 1) state.stack.pop(); }
    else if (nav.popToRoot) state.stack = state.stack.slice(0, 1);
  }
  draw();
  if (action.notification && action.notification.text) toast(action.notification.text);
  if (action.link && action.link.url) {
    toast(`Opening ${action.link.url}`);
    window.open(action.link.url, "_blank", "noopener");
  }
}

function onClick(spec) {
  if (!spec) return;
  if (spec.openLink) {
    window.open(spec.openLink.url, "_blank", "noopener");
    return;
  }
  if (spec.action) {
    const parameters = {};
    for (const p of spec.action.parameters || []) parameters[p.key] = p.value;
    send("action", { parameters, formInputs: formInputs() });
  }
}

// ------------------------------------------------------------------ the page around the sidebar

async function loadMeetings(selectId) {
  const picker = $("meeting-picker");
  const query = state.user ? `?user=${encodeURIComponent(state.user)}` : "";
  const data = await getJson(`/preview/meetings${query}`);
  state.user = data.user;
  picker.replaceChildren();
  for (const m of data.meetings) {
    const when = new Date(m.start).toLocaleString(state.locale, { dateStyle: "medium", timeStyle: "short" });
    const opt = el("option", null, `${when} — ${m.title || "(no title)"}`);
    opt.value = m.eventId;
    picker.appendChild(opt);
  }
  // Without a choice, open on the server's pick: the next meeting that needs prep.
  const chosen = selectId || data.next;
  if (chosen) picker.value = chosen;
  $("empty").hidden = data.meetings.length > 0;
  $("open-event").disabled = data.meetings.length === 0;
  return data.meetings;
}

async function addSamples() {
  busy(1);
  try {
    const result = await getJson("/preview/samples", {
      user: state.user, timeZone: state.timeZone, locale: state.locale,
    });
    await loadMeetings(result.next);
    toast(`Added ${result.added} sample meetings.`);
  } catch (err) {
    toast(`Preview error: ${err.message}`);
  } finally {
    busy(-1);
  }
}

function openEvent() {
  const eventId = $("meeting-picker").value;
  if (eventId) send("eventOpen", { eventId });
}

document.addEventListener("DOMContentLoaded", async () => {
  busy(0);
  $("open-event").addEventListener("click", openEvent);
  $("open-home").addEventListener("click", () => send("homepage", {}));
  $("add-samples").addEventListener("click", addSamples);
  $("meeting-picker").addEventListener("change", openEvent);
  $("nav-back").addEventListener("click", () => { state.stack.pop(); draw(); });
  try {
    const meetings = await loadMeetings();
    if (meetings.length) openEvent(); else send("homepage", {});
  } catch (err) {
    toast(`Preview error: ${err.message}`);
  }
  document.body.dataset.ready = "true";
});
