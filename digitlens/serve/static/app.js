// digitlens page: photo upload, drawing pad and live camera, all through POST /v1/read.
"use strict";

const $ = (id) => document.getElementById(id);

// A token given once as /?token=... is kept for this tab and sent as a bearer token.
const params = new URLSearchParams(location.search);
if (params.get("token")) {
  sessionStorage.setItem("digitlens-token", params.get("token"));
  history.replaceState(null, "", location.pathname);
}
const token = sessionStorage.getItem("digitlens-token");
let maxUpload = null;

class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function authHeaders() {
  return token ? { Authorization: "Bearer " + token } : {};
}

// POST an image; a file name sends a multipart form (the name comes back in the record).
async function readImage(blob, filename) {
  if (maxUpload && blob.size > maxUpload) {
    throw new ApiError(413, `the file is ${(blob.size / 2 ** 20).toFixed(1)} MiB; this server accepts up to ${(maxUpload / 2 ** 20).toFixed(1)} MiB`, "too_large");
  }
  const headers = authHeaders();
  let body = blob;
  if (filename) {
    body = new FormData();
    body.append("file", blob, filename);
  } else {
    headers["Content-Type"] = blob.type || "application/octet-stream";
  }
  let r;
  try {
    r = await fetch("/v1/read", { method: "POST", body, headers });
  } catch (e) {
    throw new ApiError(0, "cannot reach the server (" + e.message + ")", "network");
  }
  let j = null;
  try { j = await r.json(); } catch (e) { /* not JSON */ }
  if (!r.ok) throw new ApiError(r.status, (j && j.error) || `HTTP ${r.status}`, j && j.code);
  return j;
}

function describe(err) {
  if (err.status === 401) return "This server needs a token: open the page as /?token=YOUR_TOKEN.";
  if (err.status === 503) return "The server is busy (" + err.message + ").";
  if (err.status >= 400 && err.status < 500) return "Refused: " + err.message;
  if (err.status >= 500) return "Server error: " + err.message;
  return err.message;
}

function show(el, text, info) {
  el.textContent = text;
  el.classList.toggle("info", !!info);
  el.hidden = !text;
}

// Boxes and labels of a reading, scaled from image pixels to the canvas.
function drawBoxes(ctx, reading, scale) {
  const lw = Math.max(2, Math.round(2 * Math.max(1, ctx.canvas.width / 640)));
  ctx.lineWidth = lw;
  ctx.font = `bold ${Math.max(12, Math.round(lw * 7))}px sans-serif`;
  ctx.textBaseline = "bottom";
  for (const d of reading.rejected || []) {
    const [x, y, w, h] = d.box.map((v) => v * scale);
    ctx.setLineDash([4, 4]);
    ctx.strokeStyle = "rgba(120,120,120,0.9)";
    ctx.strokeRect(x, y, w, h);
  }
  ctx.setLineDash([]);
  for (const d of reading.digits || []) {
    const [x, y, w, h] = d.box.map((v) => v * scale);
    ctx.strokeStyle = "#16a34a";
    ctx.strokeRect(x, y, w, h);
    const label = `${d.label} ${d.confidence.toFixed(2)}`;
    const tw = ctx.measureText(label).width + 6;
    const th = parseInt(ctx.font.match(/(\d+)px/)[1], 10) + 4;
    const ty = y - th > 0 ? y : y + h + th;
    ctx.fillStyle = "#16a34a";
    ctx.fillRect(x, ty - th, tw, th);
    ctx.fillStyle = "#fff";
    ctx.fillText(label, x + 3, ty - 1);
  }
}

// ---- tabs
for (const b of document.querySelectorAll(".tab")) {
  b.addEventListener("click", () => {
    for (const o of document.querySelectorAll(".tab")) o.classList.toggle("active", o === b);
    for (const p of document.querySelectorAll(".panel")) p.hidden = p.id !== b.dataset.tab;
    if (b.dataset.tab !== "camera") stopCamera();
  });
}

// ---- photo: drop, pick or paste
const drop = $("drop");
async function readPhoto(file) {
  const msg = $("photo-msg");
  show(msg, "Reading " + (file.name || "the pasted image") + " ...", true);
  $("photo-result").hidden = true;
  let reading;
  try {
    reading = await readImage(file, file.name || "pasted.png");
  } catch (e) {
    show(msg, describe(e));
    return;
  }
  show(msg, "");
  $("photo-text").textContent = reading.text || "(no digits found)";
  const tbody = $("photo-table").querySelector("tbody");
  tbody.replaceChildren();
  const rows = (reading.digits || []).map((d) => [d, ""]).concat((reading.rejected || []).map((d) => [d, "rejected"]));
  for (const [d, cls] of rows) {
    const tr = document.createElement("tr");
    tr.className = cls;
    for (const v of [d.label + (cls ? " (rejected)" : ""), d.confidence.toFixed(3), d.line, d.box.join(", ")]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    tbody.appendChild(tr);
  }
  const canvas = $("photo-canvas");
  const url = URL.createObjectURL(file);
  const img = new Image();
  img.onload = () => {
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0);
    drawBoxes(ctx, reading, 1);
    URL.revokeObjectURL(url);
  };
  img.onerror = () => {
    canvas.width = canvas.height = 0; // read by the server, but this browser cannot show the format
    URL.revokeObjectURL(url);
  };
  img.src = url;
  $("photo-result").hidden = false;
}
$("file").addEventListener("change", (e) => { if (e.target.files[0]) readPhoto(e.target.files[0]); e.target.value = ""; });
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const f = e.dataTransfer.files[0];
  if (f) readPhoto(f);
  else show($("photo-msg"), "Refused: drop an image file.");
});
document.addEventListener("paste", (e) => {
  const item = [...(e.clipboardData || {}).items || []].find((i) => i.kind === "file");
  if (!item) return;
  e.preventDefault();
  $("tab-photo").click();
  readPhoto(item.getAsFile());
});

// ---- drawing pad: read as you write (debounced, one request at a time)
const pad = $("pad");
const pctx = pad.getContext("2d");
const octx = $("pad-overlay").getContext("2d");
function clearPad() {
  pctx.fillStyle = "#fff";
  pctx.fillRect(0, 0, pad.width, pad.height);
  octx.clearRect(0, 0, pad.width, pad.height);
  $("draw-text").textContent = "";
  show($("draw-msg"), "");
}
clearPad();
let drawing = null, padTimer = null, padBusy = false, padDirty = false, inked = false;
function padPoint(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
}
pad.addEventListener("pointerdown", (e) => {
  pad.setPointerCapture(e.pointerId);
  drawing = padPoint(e);
  pctx.fillStyle = "#111";
  pctx.beginPath();
  pctx.arc(drawing[0], drawing[1], 8, 0, 2 * Math.PI);
  pctx.fill();
  inked = true;
});
pad.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  const p = padPoint(e);
  pctx.strokeStyle = "#111";
  pctx.lineWidth = 16;
  pctx.lineCap = pctx.lineJoin = "round";
  pctx.beginPath();
  pctx.moveTo(drawing[0], drawing[1]);
  pctx.lineTo(p[0], p[1]);
  pctx.stroke();
  drawing = p;
  schedulePad();
});
for (const ev of ["pointerup", "pointercancel"]) pad.addEventListener(ev, () => { drawing = null; schedulePad(); });
$("pad-clear").addEventListener("click", () => { inked = false; clearPad(); });
function schedulePad() {
  clearTimeout(padTimer);
  padTimer = setTimeout(readPad, 300);
}
async function readPad() {
  if (!inked) return;
  if (padBusy) { padDirty = true; return; }
  padBusy = true;
  padDirty = false;
  try {
    const blob = await new Promise((res) => pad.toBlob(res, "image/png"));
    const reading = await readImage(blob);
    octx.clearRect(0, 0, pad.width, pad.height);
    drawBoxes(octx, reading, 1);
    $("draw-text").textContent = reading.text || "?";
    show($("draw-msg"), "");
  } catch (e) {
    show($("draw-msg"), describe(e));
  } finally {
    padBusy = false;
    if (padDirty) readPad();
  }
}

// ---- camera: frames to the API at a few per second, boxes over the video
const video = $("cam-video");
const overlay = $("cam-overlay");
const grab = document.createElement("canvas");
let stream = null, camTimer = null, frames = [];
const FRAME_MS = 250; // at most 4 frames a second, one request in flight
const FRAME_WIDTH = 640;
async function startCamera() {
  const msg = $("cam-msg");
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    show(msg, "No camera available: this browser gives camera access only to pages on https or localhost.");
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, facingMode: "environment" }, audio: false });
  } catch (e) {
    const why = {
      NotAllowedError: "camera permission was refused",
      NotFoundError: "no camera was found",
      NotReadableError: "the camera is in use by another program",
    }[e.name] || e.message;
    show(msg, "No camera: " + why + ".");
    return;
  }
  show(msg, "");
  video.srcObject = stream;
  $("cam-wrap").hidden = false;
  await video.play();
  $("cam-start").disabled = true;
  $("cam-stop").disabled = false;
  camLoop();
}
function stopCamera() {
  clearTimeout(camTimer);
  camTimer = null;
  if (stream) for (const t of stream.getTracks()) t.stop();
  stream = null;
  video.srcObject = null;
  $("cam-wrap").hidden = true;
  overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
  $("cam-start").disabled = false;
  $("cam-stop").disabled = true;
  $("cam-fps").textContent = "";
}
async function camLoop() {
  if (!stream) return;
  const started = performance.now();
  if (video.readyState >= 2 && video.videoWidth) {
    const s = Math.min(1, FRAME_WIDTH / video.videoWidth);
    grab.width = Math.round(video.videoWidth * s);
    grab.height = Math.round(video.videoHeight * s);
    grab.getContext("2d").drawImage(video, 0, 0, grab.width, grab.height);
    try {
      const blob = await new Promise((res) => grab.toBlob(res, "image/jpeg", 0.85));
      const reading = await readImage(blob);
      if (!stream) return;
      overlay.width = video.videoWidth;
      overlay.height = video.videoHeight;
      const ctx = overlay.getContext("2d");
      ctx.clearRect(0, 0, overlay.width, overlay.height);
      drawBoxes(ctx, reading, 1 / s);
      $("cam-text").textContent = reading.text || "(none)";
      show($("cam-msg"), "");
      frames.push(performance.now());
      frames = frames.filter((t) => t > performance.now() - 3000);
      $("cam-fps").textContent = (frames.length / 3).toFixed(1) + " readings/s";
    } catch (e) {
      show($("cam-msg"), describe(e));
      if (e.status === 401) { stopCamera(); return; }
    }
  }
  if (stream) camTimer = setTimeout(camLoop, Math.max(0, FRAME_MS - (performance.now() - started)));
}
$("cam-start").addEventListener("click", startCamera);
$("cam-stop").addEventListener("click", stopCamera);

// ---- server facts: upload limit, model name
fetch("/healthz").then((r) => r.json()).then((h) => {
  maxUpload = h.max_upload_bytes || null;
  $("version").textContent = h.version || "";
}).catch(() => show($("photo-msg"), "Server error: cannot reach the server."));
fetch("/v1/model", { headers: authHeaders() }).then((r) => (r.ok ? r.json() : null)).then((m) => {
  if (m) $("model").textContent = `model ${m.name}` + (m.metrics && m.metrics.test_accuracy_onnxruntime ? ` · ${(100 * m.metrics.test_accuracy_onnxruntime).toFixed(2)} % on MNIST test` : "");
}).catch(() => {});
