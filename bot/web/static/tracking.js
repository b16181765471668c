// The tracking page: Leaflet map, live updates (polling /t/<token>/live), the changes the page makes
// itself (links to /t/<token>/change/<kind>, shown only when the change service allows them, else why
// not), a person through the chat, and the rasa-webchat widget authenticated by the page's token.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("track-config").textContent);
  const root = document.getElementById("track");
  const $ = (id) => document.getElementById(id);

  // --- map ------------------------------------------------------------------------------------
  const mapEl = $("map");
  const map = L.map(mapEl, {zoomControl: true, attributionControl: Boolean(mapEl.dataset.tiles)});
  if (mapEl.dataset.tiles) {
    L.tileLayer(mapEl.dataset.tiles, {maxZoom: 19, attribution: mapEl.dataset.attribution || ""}).addTo(map);
  } else {
    mapEl.classList.add("no-tiles");
  }
  const layers = {
    route: L.polyline([], {color: "#0b6e4f", weight: 4, dashArray: "6 6"}).addTo(map),
    depot: L.circleMarker([0, 0], {radius: 7, color: "#344054", fillColor: "#98a2b3", fillOpacity: 1}),
    dest: L.circleMarker([0, 0], {radius: 9, color: "#7a2e0e", fillColor: "#f79009", fillOpacity: 1}).addTo(map),
    driver: L.circleMarker([0, 0], {radius: 9, color: "#053321", fillColor: "#12b76a", fillOpacity: 1}),
  };
  layers.depot.bindTooltip(mapEl.dataset.depotLabel);
  layers.driver.bindTooltip(mapEl.dataset.driverLabel, {permanent: false});
  let fitted = "";

  function drawMap(view) {
    layers.dest.setLatLng(view.destination).bindTooltip(view.destination_label);
    const points = [view.destination];
    if (view.depot && view.driver) { layers.depot.setLatLng(view.depot).addTo(map); points.push(view.depot); }
    else layers.depot.remove();
    if (view.driver) { layers.driver.setLatLng(view.driver).addTo(map); points.push(view.driver); }
    else layers.driver.remove();
    layers.route.setLatLngs(view.route || []);
    const key = JSON.stringify([view.depot && view.driver ? view.depot : null, view.destination, Boolean(view.driver)]);
    if (key !== fitted) {  // refit only when what is shown changes, not on every driver move
      if (points.length > 1) map.fitBounds(L.latLngBounds(points).pad(0.25)); else map.setView(view.destination, 14);
      fitted = key;
    }
    $("map-waiting").hidden = Boolean(view.driver);
    $("dest-label").textContent = view.destination_label;
  }

  // --- live facts -----------------------------------------------------------------------------
  function render(view) {
    $("headline").textContent = view.headline;
    $("eta").textContent = view.eta || cfg.eta_none;
    $("stops").textContent = view.stops_away || "";
    $("stops-row").hidden = !view.stops_away;
    $("updated").textContent = view.updated;
    root.dataset.status = view.status;
    const steps = $("timeline").children;
    view.timeline.forEach((step, i) => {
      steps[i].className = "step " + step.state;
      steps[i].textContent = step.label;
      if (step.state === "current") steps[i].setAttribute("aria-current", "step"); else steps[i].removeAttribute("aria-current");
    });
    const proof = view.proof;
    $("proof").hidden = !proof;
    if (proof) renderProof(proof);
    let any = false;
    document.querySelectorAll("#actions li[data-action]").forEach((row) => {
      const key = row.dataset.action;
      if (!(key in view.actions)) return;
      const on = view.actions[key];
      row.querySelector("a.action").hidden = !on;
      row.querySelector(".action-off").hidden = on;
      row.querySelector(".why-not").textContent = (view.why_not || {})[key] || "";
      any = any || on;
    });
    $("actions-none").hidden = any;
    const history = $("history");
    if (!view.history.length) history.replaceChildren(Object.assign(document.createElement("li"), {className: "muted", textContent: cfg.historyNone}));
    else history.replaceChildren(...view.history.map((e) => {
      const li = document.createElement("li");
      const at = document.createElement("span");
      at.className = "muted";
      at.textContent = e.at + " ";
      li.append(at, e.text);
      return li;
    }));
    drawMap(view);
  }

  function renderProof(proof) {
    $("proof-rows").replaceChildren(...proof.rows.map((row) => {
      const div = document.createElement("div");
      div.dataset.key = row.key;
      const dt = document.createElement("dt");
      dt.textContent = row.label;
      const dd = document.createElement("dd");
      dd.textContent = row.value;
      if (row.key === "code") dd.className = "code";
      div.append(dt, dd);
      return div;
    }));
    const photo = $("proof-photo");
    $("proof-photo-box").hidden = !proof.photo;
    if (proof.photo && photo.getAttribute("src") !== proof.photo) photo.setAttribute("src", proof.photo);
    const pins = proof.map;
    $("proof-map-box").hidden = !pins;
    if (pins) {
      const [ax, ay] = pins.address, [dx, dy] = pins.drop || pins.address;
      $("pin-address").setAttribute("transform", `translate(${ax} ${ay})`);
      $("pin-drop").setAttribute("transform", `translate(${dx} ${dy})`);
      $("pin-drop").setAttribute("visibility", pins.drop ? "visible" : "hidden");
      const line = $("pin-line");
      line.setAttribute("x1", ax); line.setAttribute("y1", ay); line.setAttribute("x2", dx); line.setAttribute("y2", dy);
      line.setAttribute("visibility", pins.drop ? "visible" : "hidden");
      $("pin-scale").setAttribute("x2", pins.scale[1]);
      $("pin-scale-text").textContent = `${pins.scale[0]} m`;
      $("proof-map-metres").textContent = pins.metres === null ? "" : `${pins.metres} m`;
    }
  }

  async function poll() {
    try {
      const r = await fetch(`/t/${encodeURIComponent(cfg.token)}/live?lang=${root.dataset.lang}`, {cache: "no-store"});
      if (r.ok) render(await r.json());
    } catch (e) { /* offline for a moment: try again at the next tick */ }
  }
  render(cfg.view);
  setInterval(poll, 3000);

  // --- chat -------------------------------------------------------------------------------------
  const chat = {current: null};
  window.WebChat.default({
    socketUrl: cfg.socketUrl,
    socketPath: "/socket.io/",
    customData: {token: cfg.token, language: root.dataset.lang},
    embedded: true,
    initPayload: "/greet",
    title: "Doorstep",
    inputTextFieldHint: cfg.inputHint,
    showFullScreenButton: false,
    params: {storage: "session"},
    innerRef: chat,
  }, $("webchat"));

  document.querySelectorAll("#actions [data-payload]").forEach((button) => {
    button.addEventListener("click", () => {
      const widget = chat.current;
      if (widget && typeof widget.sendMessage === "function") widget.sendMessage(button.dataset.payload, button.textContent.trim());
      const input = document.querySelector("#webchat .rw-new-message");
      $("webchat").scrollIntoView({behavior: "smooth", block: "start"});
      if (input) input.focus({preventScroll: true});
    });
  });
})();
