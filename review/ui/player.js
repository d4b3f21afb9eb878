// emotrace review player: the one media element (#emo-media) is the single source of time.
// Everything that moves time (timeline clicks, table rows, transcript lines, summary and
// scorecard moments, keys, deep links) goes through emotrace.seek(); a range dragged across the
// timeline fills the annotation form (emotrace.selectRange); everything that shows time
// (playhead, clock, transcript line) follows the element's timeupdate. Loaded once in the page
// head; the player's HTML is replaced whenever another call opens, so listeners attach to
// whatever element is current.
(() => {
  if (window.emotrace) { return; }
  const media = () => document.getElementById("emo-media");
  const box = () => document.querySelector(".emo-player");
  const plot = () => document.querySelector("#timeline .js-plotly-plot");
  const clamp = (t, m) => Math.max(0, Math.min(t, (m && isFinite(m.duration)) ? m.duration : t));
  const clock = (t) => {
    const m = Math.floor(t / 60), s = t - 60 * m;
    return `${m}:${s < 10 ? "0" : ""}${s.toFixed(1)}`;
  };

  function seek(t, play) {
    const m = media();
    t = Number(t);
    if (!m || !isFinite(t)) { return; }
    const go = () => {
      m.currentTime = clamp(t, m);
      show();
      if (play) { m.play(); }
    };
    if (m.readyState >= 1) { go(); } else { m.addEventListener("loadedmetadata", go, {once: true}); }
  }

  function events() {
    const b = box();
    try { return b ? JSON.parse(b.dataset.events || "[]") : []; } catch (e) { return []; }
  }

  function nextEvent() {
    const m = media();
    if (!m) { return; }
    const later = events().filter((t) => t > m.currentTime + 0.25);
    if (later.length) { seek(later[0]); }
  }

  // The playhead: a thin line over the plotly timeline at the media's time.
  function playhead(t) {
    const gd = plot();
    if (!gd || !gd._fullLayout || !gd._fullLayout.xaxis) { return; }
    const xa = gd._fullLayout.xaxis, size = gd._fullLayout._size;
    let line = gd.querySelector(".emo-playhead");
    if (!line) {
      line = document.createElement("div");
      line.className = "emo-playhead";
      gd.style.position = "relative";
      gd.appendChild(line);
    }
    const [lo, hi] = xa.range;
    line.style.display = t >= lo && t <= hi ? "block" : "none";
    line.style.left = `${xa._offset + xa.l2p(t)}px`;
    line.style.top = `${size.t}px`;
    line.style.height = `${size.h}px`;
    line.dataset.t = t.toFixed(2);
  }

  // The transcript line being spoken: highlighted and scrolled into its panel.
  function transcript(t) {
    const panel = document.querySelector("#transcript .emo-transcript");
    if (!panel) { return; }
    let now = null;
    panel.querySelectorAll("[data-start]").forEach((el) => {
      const on = t >= Number(el.dataset.start) && t < Number(el.dataset.end);
      el.classList.toggle("emo-now", on);
      if (on && !now) { now = el; }
    });
    if (now && now !== panel.__last) {
      panel.__last = now;
      panel.scrollTop = now.offsetTop - panel.offsetTop - panel.clientHeight / 3;
    }
  }

  function show() {
    const m = media();
    if (!m) { return; }
    const c = document.getElementById("emo-clock");
    const text = clock(m.currentTime);
    if (c && c.textContent !== text) { c.textContent = text; }
    playhead(m.currentTime);
    transcript(m.currentTime);
  }

  function follow() {
    const m = media();
    if (m && !m.paused) { show(); requestAnimationFrame(follow); }
  }

  // A freshly rendered player: listeners, the caption line of audio calls, the deep link's start.
  function attach(m) {
    if (m.__emotrace) { return; }
    m.__emotrace = true;
    m.addEventListener("timeupdate", show);
    m.addEventListener("seeked", show);
    m.addEventListener("play", () => requestAnimationFrame(follow));
    const caption = document.getElementById("emo-caption");
    for (const track of m.textTracks) {
      if (caption && m.tagName === "AUDIO") { track.mode = "hidden"; }
      track.addEventListener("cuechange", () => {
        if (!caption) { return; }
        const cues = Array.from(track.activeCues || []);
        caption.textContent = cues.map((c) => c.text).join(" · ");
      });
    }
    const b = box();
    const start = b ? Number(b.dataset.start) : NaN;
    if (isFinite(start) && start > 0) { seek(start); }
  }

  function link() {
    const m = media(), b = box();
    if (!m || !b) { return ""; }
    const u = new URL(window.location.href);
    u.search = "";
    u.searchParams.set("call", b.dataset.call);
    u.searchParams.set("t", m.currentTime.toFixed(1));
    return u.toString();
  }

  function copyLink() {
    const url = link(), out = document.getElementById("emo-link");
    if (!url) { return; }
    if (out) { out.value = url; out.style.display = "inline-block"; out.select(); }
    if (navigator.clipboard) { navigator.clipboard.writeText(url).catch(() => {}); }
  }

  // A range dragged across the timeline (plotly's horizontal "select" drag mode): the player goes
  // to its start and the annotation form gets its times (and the speaker whose lane the drag
  // began in) through the hidden #ann-range box, whose change the app answers; then the form
  // comes into view, its text box focused. In zoom or pan mode (the mode bar) a drag is theirs.
  let ranges = 0;
  function timeAt(gd, clientX) {
    const xa = gd._fullLayout.xaxis, rect = gd.getBoundingClientRect();
    return xa.p2l(clientX - rect.left - xa._offset);
  }
  function laneAt(gd, clientY) {
    const ya = gd._fullLayout.yaxis, rect = gd.getBoundingClientRect();
    const y = clientY - rect.top - ya._offset;
    if (y < 0 || y > ya._length || !ya._categories) { return ""; }
    const name = ya._categories[Math.round(ya.p2l(y))];
    const lanes = (gd._fullLayout.meta || {}).lanes || {};
    return Object.prototype.hasOwnProperty.call(lanes, name) ? lanes[name] : "";
  }
  function selectRange(a, b, speaker) {
    const m = media(), gd = plot();
    const end = m && isFinite(m.duration) ? m.duration : (gd ? gd._fullLayout.xaxis.range[1] : b);
    const lo = Math.max(0, Math.min(a, b)), hi = Math.min(end, Math.max(a, b));
    if (!(hi > lo)) { return null; }
    const box = document.querySelector("#ann-range textarea, #ann-range input");
    if (box) {
      ranges += 1;
      box.value = JSON.stringify({start: lo, end: hi, speaker: speaker || "", n: ranges});
      box.dispatchEvent(new Event("input", {bubbles: true}));
    }
    seek(lo);
    const form = document.getElementById("annotate");
    if (form) { form.scrollIntoView({block: "nearest"}); }
    const text = document.querySelector("#ann-text textarea, #ann-text input");
    if (text) { text.focus({preventScroll: true}); }
    return [lo, hi];
  }

  // Click anywhere on the plot area of the timeline: seek there (a drag selects or zooms).
  let down = null, drag = null;
  document.addEventListener("mousedown", (e) => {
    down = [e.clientX, e.clientY];
    const gd = plot();
    const onPlot = gd && gd.contains(e.target) && e.target.closest(".nsewdrag");
    drag = onPlot && gd._fullLayout.dragmode === "select" && e.button === 0
      ? {x: e.clientX, lane: laneAt(gd, e.clientY)} : null;
  }, true);
  document.addEventListener("mouseup", (e) => {
    const gd = plot(), start = drag;
    drag = null;
    if (!start || !gd || Math.abs(e.clientX - start.x) <= 4) { return; }
    selectRange(timeAt(gd, start.x), timeAt(gd, e.clientX), start.lane);
  }, true);
  document.addEventListener("click", (e) => {
    const seekable = e.target.closest && e.target.closest("[data-seek]");
    if (seekable) { seek(Number(seekable.dataset.seek)); return; }
    if (e.target.closest && e.target.closest("#emo-copy-link")) { copyLink(); return; }
    const gd = plot();
    if (!gd || !gd.contains(e.target) || !e.target.closest(".nsewdrag")) { return; }
    if (down && Math.hypot(e.clientX - down[0], e.clientY - down[1]) > 4) { return; }
    seek(timeAt(gd, e.clientX));
  }, true);

  // Keys: space / K play-pause, arrows 5 s, J / L 10 s, N next event (not while typing).
  document.addEventListener("keydown", (e) => {
    const m = media();
    const typing = e.target.closest && e.target.closest("input, textarea, select, [contenteditable]");
    if (!m || typing || e.ctrlKey || e.metaKey || e.altKey) { return; }
    const k = e.key.toLowerCase();
    const step = {arrowleft: -5, arrowright: 5, j: -10, l: 10}[k];
    if (k === " " || k === "k") { m.paused ? m.play() : m.pause(); }
    else if (step !== undefined) { seek(m.currentTime + step); }
    else if (k === "n") { nextEvent(); }
    else { return; }
    e.preventDefault();
  });

  // A new player or a redrawn timeline: attach and redraw (only then: show() itself changes the
  // DOM, so redrawing on every mutation would never stop).
  let seen = [null, null];
  new MutationObserver(() => {
    const m = media(), gd = plot();
    const head = gd && gd.querySelector(".emo-playhead");
    if (m === seen[0] && gd === seen[1] && (!gd || head)) { return; }
    seen = [m, gd];
    if (m) { attach(m); show(); }
  }).observe(document.documentElement, {childList: true, subtree: true});

  window.emotrace = {seek, nextEvent, link, copyLink, media, selectRange};
})();
