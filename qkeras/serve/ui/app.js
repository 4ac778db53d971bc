// qkeras serve demo page: upload an image, show the prediction, probabilities and Grad-CAM.
"use strict";
const $ = (id) => document.getElementById(id);
let models = [];

function headers() {
  const token = $("token").value;
  return token ? { Authorization: "Bearer " + token } : {};
}

async function loadModels() {
  const reply = await fetch("/ui/models.json");
  models = (await reply.json()).models;
  $("model").innerHTML = "";
  for (const m of models) {
    const option = document.createElement("option");
    option.value = m.name;
    option.textContent = `${m.name} (version ${m.version}, ${m.inputs.modality || "image"})`;
    $("model").appendChild(option);
  }
  if (!models.length) status("No served model has a serving card (qkeras.json).", true);
}

function status(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function show(result) {
  $("prediction").textContent = result.prediction;
  const p = result.probabilities[result.class_index];
  $("confidence").textContent = `(${(100 * p).toFixed(1)}%)`;
  $("input-image").src = result.image;
  $("cam-figure").hidden = !result.grad_cam;
  if (result.grad_cam) $("cam-image").src = result.grad_cam;
  const body = $("probabilities").querySelector("tbody");
  body.innerHTML = "";
  result.classes.forEach((name, i) => {
    const row = body.insertRow();
    row.className = "probability";
    row.insertCell().textContent = name;
    row.insertCell().textContent = result.probabilities[i].toFixed(4);
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = `${Math.round(200 * result.probabilities[i])}px`;
    row.insertCell().appendChild(bar);
  });
  const facts = result.input;
  $("facts").textContent = `${facts.kind.toUpperCase()} ${facts.shape.join("x")}` +
    (facts.deidentified ? ", de-identified in memory" : "") +
    ` — model ${result.model_spec.name} version ${result.model_spec.version}`;
  $("result").hidden = false;
}

$("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("file").files[0];
  if (!file) { status("Choose an image first.", true); return; }
  const form = new FormData();
  form.append("file", file);
  const query = $("explain").checked ? "?explain=grad_cam" : "";
  status("Classifying…");
  const reply = await fetch(`/v1/models/${encodeURIComponent($("model").value)}:classify${query}`,
                            { method: "POST", body: form, headers: headers() });
  const result = await reply.json();
  if (reply.status === 401) $("token-row").hidden = false;
  if (!reply.ok) { status(result.error, true); return; }
  status("Done.");
  show(result);
});

loadModels().catch((err) => status(String(err), true));
