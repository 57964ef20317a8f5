// Small progressive enhancements; every page works without this file.
document.addEventListener("click", (event) => {
  const copy = event.target.closest("[data-copy-target]");
  if (copy) {
    const source = document.getElementById(copy.dataset.copyTarget);
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent.trim()).then(() => {
        copy.textContent = copy.dataset.copiedLabel || "Copied";
      });
    }
  }
});

// The account menu closes on a click elsewhere and on Escape, as menus do.
document.addEventListener("click", (event) => {
  for (const menu of document.querySelectorAll("details.account-menu[open]")) {
    if (!menu.contains(event.target)) menu.open = false;
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const menu = document.querySelector("details.account-menu[open]");
  if (menu) {
    menu.open = false;
    menu.querySelector("summary").focus();
  }
});

// The language switcher applies a choice at once (without this file, its Go button does).
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-submit-on-change]")) event.target.form.submit();
});

// Destructive actions ask first. A form with data-confirm-method="post" is a GET to its
// confirmation page without this file; once confirmed here it posts straight away.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.dataset.confirm) return;
  if (!window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  if (form.dataset.confirmMethod !== "post") return;
  event.preventDefault();
  const token = document.querySelector("input[name=csrfmiddlewaretoken]");
  const fields = [["confirmed", "1"]];
  if (token) fields.push([token.name, token.value]);
  if (event.submitter && event.submitter.name) fields.push([event.submitter.name, event.submitter.value]);
  for (const [name, value] of fields) {
    const input = document.createElement("input");
    Object.assign(input, { type: "hidden", name, value });
    form.append(input);
  }
  form.method = "post";
  form.submit();
});

// The invoice editor: htmx replaces its rows when a line is added or removed. Focus then goes
// to the new line's first input, or after a removal to the line before (or the add button),
// and #editor-announcer says what happened.
let editorAction = null;
document.addEventListener("htmx:beforeRequest", (event) => {
  const source = event.detail.elt;
  // Only the rows' own buttons (the totals' requests come and go in between).
  if (source && source.name === "action" && source.closest("#editor-rows")) editorAction = source.value;
});
document.addEventListener("htmx:afterSettle", (event) => {
  const action = editorAction;
  if (!action || !event.detail.target || event.detail.target.id !== "editor-rows") return;
  editorAction = null;
  const match = /^(add|remove)_(line|adjustment)(?:-(\d+))?$/.exec(action);
  if (!match) return;
  const [, verb, kind, index] = match;
  const rows = [...document.querySelectorAll(`#editor-rows tr.${kind}`)];
  const firstInput = (row) => row && row.querySelector("input, select, textarea");
  let target;
  let number;
  if (verb === "add") {
    target = firstInput(rows[rows.length - 1]);
    number = rows.length;
  } else {
    number = Number(index) + 1;
    target = firstInput(rows[Number(index) - 1]) || document.getElementById(`add-${kind}`);
  }
  // Unless the user has moved on to a field outside the rows during the request: the focus
  // is theirs then (moved a moment later, it took the next keystrokes of the field being
  // filled). Within the rows it is htmx's, restored to the control with the clicked one's id.
  const active = document.activeElement;
  const rowsArea = document.getElementById("editor-rows");
  if (target && (!active || active === document.body || rowsArea.contains(active))) target.focus();
  announce(document.getElementById("editor-announcer"), `${kind}${verb === "add" ? "Added" : "Removed"}`, number);
});

// The totals partial carries each line's amount: put it in that line's cell, if the line is there.
document.addEventListener("htmx:afterSettle", (event) => {
  if (!event.detail.target || event.detail.target.id !== "totals") return;
  for (const amount of event.detail.target.querySelectorAll("[data-line-amount]")) {
    const cell = document.getElementById(`line-amount-${amount.dataset.lineAmount}`);
    if (cell) cell.textContent = amount.textContent;
  }
  // What the editor says about each row (why it is not counted, warnings): server-rendered.
  for (const [attribute, prefix] of [["lineNote", "line-note"], ["adjustmentNote", "adjustment-note"]]) {
    for (const note of event.detail.target.querySelectorAll(`[data-${prefix}]`)) {
      const cell = document.getElementById(`${prefix}-${note.dataset[attribute]}`);
      if (cell && cell.innerHTML !== note.innerHTML) cell.innerHTML = note.innerHTML;
      const row = document.getElementById(`${prefix.replace("-note", "")}-${note.dataset[attribute]}`);
      if (row) row.classList.toggle("not-counted", Boolean(note.querySelector("[data-note='error']")));
    }
  }
});

function announce(region, key, number) {
  if (!region || !region.dataset[key]) return;
  region.textContent = "";
  // A moment later, so that the same words twice in a row are read twice.
  setTimeout(() => {
    region.textContent = region.dataset[key].replace("{n}", number);
  }, 50);
}

// The tenant form's live checks replace each field's error slot: mark its input to match.
document.addEventListener("htmx:afterSettle", () => {
  for (const slot of document.querySelectorAll(".live-errors")) {
    const input = slot.closest(".field") && slot.closest(".field").querySelector("input, select, textarea");
    if (!input) continue;
    const errorId = `${input.id}_error`;
    const ids = (input.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== errorId);
    if (document.getElementById(errorId) && slot.contains(document.getElementById(errorId))) {
      ids.push(errorId);
      input.setAttribute("aria-invalid", "true");
    } else {
      input.removeAttribute("aria-invalid");
    }
    if (ids.length) input.setAttribute("aria-describedby", ids.join(" "));
    else input.removeAttribute("aria-describedby");
  }
});
