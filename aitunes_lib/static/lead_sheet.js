// The interactive lead sheet (aitunes_lib.sheet.LeadSheet): abcjs draws the ABC in the browser,
// the project's own audio (FluidSynth, compact MP3) plays it, and the two are kept in step:
// a cursor follows the playback, and a click on a note plays from that note.
// `ABCJS` is defined just above this file by sheet.py (the bundled abcjs, no CDN).

const STYLE = `
.aitunes-sheet { font-family: sans-serif; max-width: 900px; }
.aitunes-sheet .bar { display: flex; align-items: center; gap: 0.6em; margin: 0.3em 0; }
.aitunes-sheet audio { width: 100%; max-width: 520px; }
.aitunes-sheet .where { color: #555; font-size: 0.9em; min-width: 9em; }
.aitunes-sheet .abcjs-highlight { fill: #d62728; }
.aitunes-sheet .abcjs-note, .aitunes-sheet .abcjs-rest { cursor: pointer; }
.aitunes-sheet .paper { background: white; color: black; }
`;

function eventAt(timings, ms) {
  // the last event that has started by `ms` (binary search over start times)
  let lo = 0, hi = timings.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (timings[mid].milliseconds <= ms + 1) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
  }
  return found;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "aitunes-sheet";
  const style = document.createElement("style");
  style.textContent = STYLE;
  const bar = document.createElement("div");
  bar.className = "bar";
  const player = document.createElement("audio");
  player.controls = true;
  player.preload = "auto";
  const where = document.createElement("span");
  where.className = "where";
  where.textContent = "click a note to play from it";
  bar.append(player, where);
  const paper = document.createElement("div");
  paper.className = "paper";
  root.append(style, bar, paper);
  el.append(root);

  let timings = [];
  let current = -1;
  let url = null;
  let cursor = null;
  let frame = null;

  function highlight(index) {
    if (index === current) return;
    if (current >= 0 && timings[current]) {
      for (const group of timings[current].elements || []) for (const node of group) node.classList.remove("abcjs-highlight");
    }
    current = index;
    const event = timings[index];
    if (!event) return;
    for (const group of event.elements || []) for (const node of group) node.classList.add("abcjs-highlight");
    if (cursor) {
      cursor.setAttribute("x1", event.left - 2);
      cursor.setAttribute("x2", event.left - 2);
      cursor.setAttribute("y1", event.top);
      cursor.setAttribute("y2", event.top + event.height);
    }
    where.textContent = `bar ${event.measureNumber + 1}, ${(event.milliseconds / 1000).toFixed(1)} s`;
    model.set("cursor", index);
    model.save_changes();
  }

  function follow() {
    highlight(eventAt(timings, player.currentTime * 1000));
    frame = player.paused ? null : requestAnimationFrame(follow);
  }

  function clicked(abcElem) {
    const start = abcElem.startChar;
    const index = timings.findIndex((e) => e.startCharArray ? e.startCharArray.includes(start) : e.startChar === start);
    if (index < 0) return;
    player.currentTime = timings[index].milliseconds / 1000;
    highlight(index);
    model.set("clicked", index);
    model.save_changes();
    player.play().catch(() => {}); // a browser may refuse sound before a user gesture; the cursor still moves
  }

  function draw() {
    current = -1;
    const [visual] = ABCJS.renderAbc(paper, model.get("abc"), {
      add_classes: true, responsive: "resize", clickListener: clicked, selectTypes: ["note"],
      staffwidth: 740,  // the lines are the text's: four bars each (sheet.py lays them out)
    });
    timings = (visual ? visual.setTiming(model.get("qpm"), 0) : []).filter((e) => e.type === "event");
    const svg = paper.querySelector("svg");
    if (svg) {
      cursor = document.createElementNS("http://www.w3.org/2000/svg", "line");
      cursor.setAttribute("class", "aitunes-cursor");
      cursor.setAttribute("stroke", "#d62728");
      cursor.setAttribute("stroke-width", "2");
      for (const k of ["x1", "x2", "y1", "y2"]) cursor.setAttribute(k, "0");
      svg.appendChild(cursor);
    }
    model.set("events", timings.length);
    model.save_changes();
  }

  function load() {
    if (url) URL.revokeObjectURL(url);
    const data = model.get("audio");
    url = data && data.byteLength ? URL.createObjectURL(new Blob([data], { type: model.get("audio_type") })) : null;
    player.style.display = url ? "" : "none";
    if (url) player.src = url;
  }

  player.addEventListener("play", () => { if (frame === null) frame = requestAnimationFrame(follow); });
  player.addEventListener("seeked", () => highlight(eventAt(timings, player.currentTime * 1000)));
  player.addEventListener("timeupdate", () => highlight(eventAt(timings, player.currentTime * 1000)));
  model.on("change:abc", draw);
  model.on("change:qpm", draw);
  model.on("change:audio", load);
  draw();
  load();
  return () => { if (url) URL.revokeObjectURL(url); if (frame !== null) cancelAnimationFrame(frame); };
}

export default { render };
