// Progressive enhancement only: every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Print buttons (inline handlers are forbidden by the CSP).
  // The attribute on <html> tells the browser test the dialog was asked for.
  const print = () => {
    document.documentElement.dataset.printed = String(Number(document.documentElement.dataset.printed || 0) + 1);
    window.print();
  };
  for (const button of document.querySelectorAll("[data-print]")) {
    button.hidden = false;
    button.addEventListener("click", print);
  }
  // "Record and print" lands here: open the print dialog once the page is laid out.
  if (document.querySelector("[data-autoprint]")) {
    window.addEventListener("load", () => setTimeout(print, 50), { once: true });
  }
  // Copy-to-clipboard buttons next to read-only fields.
  for (const button of document.querySelectorAll("[data-copy]")) {
    const target = document.getElementById(button.dataset.copy);
    if (!target || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      await navigator.clipboard.writeText(target.value || target.textContent);
      button.textContent = "Copied";
    });
  }
  // "Add another area" on the treatment form: clone the last row with the next index.
  const addRow = document.querySelector("[data-add-row]");
  const rows = document.getElementById("area-rows");
  if (addRow && rows) {
    addRow.hidden = false;
    addRow.addEventListener("click", () => {
      const last = rows.querySelector("tr.area-row:last-child");
      const next = rows.querySelectorAll("tr.area-row").length;
      if (!last || next >= 20) return;
      const row = last.cloneNode(true);
      for (const el of row.querySelectorAll("[id], [name], [for]")) {
        for (const attr of ["id", "name", "for"]) {
          const v = el.getAttribute(attr);
          if (v) el.setAttribute(attr, v.replace(/_\d+$/, "_" + next));
        }
      }
      for (const el of row.querySelectorAll(".error, .depth-note")) el.remove();
      for (const el of row.querySelectorAll("input, select")) el.value = "";
      rows.appendChild(row);
      row.querySelector("select").focus();
    });
  }
  // A depth outside the area's usual range is flagged as it is typed; the server still asks
  // for "Yes, this depth is right" before it saves one.
  const depthNote = (row) => {
    const select = row.querySelector("select");
    const input = row.querySelector("input[data-depth]");
    if (!select || !input) return;
    let note = row.querySelector(".depth-note");
    const usual = select.selectedOptions[0] && select.selectedOptions[0].dataset.usual;
    const depth = parseFloat(input.value.replace(",", "."));
    let text = "";
    if (usual && Number.isFinite(depth)) {
      const [low, high] = usual.split(" ").map(Number);
      const label = select.selectedOptions[0].textContent;
      if (depth > high || depth < low) {
        text = `${depth > high ? "Deeper" : "Shallower"} than usual: ${label} is usually treated at ${low}–${high} mm. Check it before you record.`;
      }
    }
    if (!text) {
      if (note) note.remove();
      return;
    }
    if (!note) {
      note = document.createElement("p");
      note.className = "depth-note warning";
      note.setAttribute("role", "status");
      input.insertAdjacentElement("afterend", note);
    }
    note.textContent = text;
  };
  // The time-zone picker: a box above the list narrows it as one types ("los angeles",
  // "sydney"); the list itself is still the form's field, so it works without this.
  for (const select of document.querySelectorAll("select[data-filter-label]")) {
    const groups = [...select.querySelectorAll("optgroup")].map((group) => ({
      label: group.label,
      zones: [...group.querySelectorAll("option")].map((o) => o.value),
    }));
    const label = document.createElement("label");
    label.htmlFor = select.id + "_filter";
    label.textContent = select.dataset.filterLabel;
    const box = document.createElement("input");
    box.type = "search";
    box.id = select.id + "_filter";
    box.autocomplete = "off";
    box.setAttribute("aria-controls", select.id);
    const status = document.createElement("p");
    status.className = "hint";
    status.setAttribute("role", "status");
    select.before(label, box, status);
    box.addEventListener("input", () => {
      const words = box.value.trim().toLowerCase().replace(/\s+/g, "_");
      const chosen = select.value;
      let found = 0;
      select.replaceChildren();
      for (const { label, zones } of groups) {
        const shown = zones.filter((z) => z.toLowerCase().includes(words));
        if (!shown.length) continue;
        const group = document.createElement("optgroup");
        group.label = label;
        for (const zone of shown) group.append(new Option(zone, zone, false, zone === chosen));
        select.append(group);
        found += shown.length;
      }
      if (!found) {
        for (const { label, zones } of groups) {
          const group = document.createElement("optgroup");
          group.label = label;
          for (const zone of zones) group.append(new Option(zone, zone, false, zone === chosen));
          select.append(group);
        }
      }
      status.textContent = !words ? "" : found ? `${found} zone${found === 1 ? "" : "s"} match.` : "No zone matches; showing them all.";
    });
  }
  if (rows) {
    rows.addEventListener("input", (e) => depthNote(e.target.closest("tr.area-row")));
    rows.addEventListener("change", (e) => depthNote(e.target.closest("tr.area-row")));
  }
  // The online sheet opens on today: the day of healing and today's Do and Avoid, found by the
  // phases' own times. The page stays the same for every day (so it is cached); without this
  // script the whole plan shows, as on paper.
  const today = document.getElementById("today");
  const plan = document.querySelector("article.sheet[data-treated]");
  if (today && plan) {
    const now = Date.now();
    const phase = [...plan.querySelectorAll(".phase[data-from]")].find(
      (p) => Date.parse(p.dataset.from) <= now && now < Date.parse(p.dataset.until));
    if (phase) {
      // Days after the treatment, by the clinic's calendar (as the emails count them).
      const local = new Intl.DateTimeFormat("en-CA", { timeZone: plan.dataset.zone }).format(now);
      const day = Math.round((Date.parse(local) - Date.parse(plan.dataset.treated)) / 86400000);
      const name = phase.querySelector("h3").firstChild.textContent.trim();
      today.querySelector(".today-day").textContent = day > 0
        ? `Today is day ${day} after your treatment. Where you are now: ${name}.`
        : `Today is the day of your treatment. Where you are now: ${name}.`;
      today.querySelector(".today-skin").textContent = phase.querySelector(".skin").textContent;
      const [doList, avoidList] = phase.querySelectorAll(".do-avoid ul");
      const copy = (from, to) => { for (const li of from.children) to.appendChild(li.cloneNode(true)); };
      copy(doList, today.querySelector(".today-do"));
      // What to avoid for the first days is listed once on the sheet, with its end.
      for (const line of plan.querySelectorAll(".avoid-until p[data-until]")) {
        if (now < Date.parse(line.dataset.until)) {
          const li = document.createElement("li");
          li.textContent = line.textContent.trim();
          today.querySelector(".today-avoid").appendChild(li);
        }
      }
      copy(avoidList, today.querySelector(".today-avoid"));
      today.hidden = false;
    }
  }
});
