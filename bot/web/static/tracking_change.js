// The tracking page's locker choice on a map (issue 16): a marker per locker; picking a marker picks the
// locker in the list below it (the list is the keyboard's and the screen reader's way, and works without
// this script); picking in the list highlights its marker.
(function () {
  "use strict";
  const mapEl = document.getElementById("locker-map");
  if (!mapEl || !window.L) return;
  const positions = JSON.parse(mapEl.dataset.lockers || "[]");
  const radios = Array.from(document.querySelectorAll("#locker-list input[name=locker]"));
  const points = positions.filter(Boolean);
  if (!points.length) { mapEl.hidden = true; return; }
  const map = L.map(mapEl, {attributionControl: Boolean(mapEl.dataset.tiles)});
  if (mapEl.dataset.tiles) L.tileLayer(mapEl.dataset.tiles, {maxZoom: 19, attribution: mapEl.dataset.attribution || ""}).addTo(map);
  else mapEl.classList.add("no-tiles");
  const plain = {radius: 9, color: "#344054", fillColor: "#98a2b3", fillOpacity: 1, weight: 2};
  const picked = {radius: 11, color: "#053321", fillColor: "#12b76a", fillOpacity: 1, weight: 3};
  const markers = positions.map((position, i) => {
    if (!position) return null;
    const marker = L.circleMarker(position, plain).addTo(map);
    const label = radios[i] ? radios[i].closest("label").querySelector("strong").textContent : "";
    marker.bindTooltip(label);
    marker.on("click", () => {
      if (!radios[i]) return;
      radios[i].checked = true;
      radios[i].dispatchEvent(new Event("change", {bubbles: true}));
      radios[i].focus({preventScroll: true});
    });
    return marker;
  });
  function highlight() {
    markers.forEach((marker, i) => { if (marker) marker.setStyle(radios[i] && radios[i].checked ? picked : plain); });
  }
  radios.forEach((radio) => radio.addEventListener("change", highlight));
  const home = JSON.parse(mapEl.dataset.home || "null");
  if (home) {  // the delivery address, for distance at a glance (not a choice)
    L.circleMarker(home, {radius: 8, color: "#7a2e0e", fillColor: "#f79009", fillOpacity: 1, weight: 2, interactive: false})
      .bindTooltip(mapEl.dataset.homeLabel || "", {permanent: false}).addTo(map);
    points.push(home);
  }
  map.fitBounds(L.latLngBounds(points).pad(0.3));
  highlight();
  window.DOORSTEP_LOCKER_MAP = {markers: markers.length};  // for the browser test: the map was drawn
})();
