// Agent console: the live queue and the live transcript, both over server-sent events.
window.DoorstepConsole = (function () {
  "use strict";

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  }

  function queueItem(item, csrf) {
    const title = item.customer + (item.shipment ? " · " + item.shipment : "");
    const badge = el("span", {className: "badge " + item.status}, item.status + (item.agent ? ": " + item.agent : ""));
    const article = el("article", {className: "card item"},
      el("header", {className: "item-head"},
        el("h2", {className: "item-title"}, el("a", {className: "open", href: "/agent/handoffs/" + item.id}, title)), badge),
      el("p", {className: "asked"}, item.asked || "(no message)"),
      el("p", {className: "meta muted small"}, [item.channel, item.language, item.reason, "waiting " + Math.floor(item.waiting_seconds / 60) + " min",
        item.shipment_status ? "parcel " + item.shipment_status : null].filter(Boolean).join(" · ")));
    if (item.not_delivered) article.append(el("p", {className: "notice small"}, "Replies not delivered: " + item.not_delivered));
    article.dataset.id = item.id;
    article.dataset.status = item.status;
    if (item.status === "open") {
      const form = el("form", {method: "post", action: "/agent/handoffs/" + item.id + "/claim", className: "claim"},
        el("input", {type: "hidden", name: "csrf_token", value: csrf}), el("button", {type: "submit"}, "Claim"));
      article.append(form);
    }
    return article;
  }

  function queue() {
    const box = document.getElementById("queue");
    const source = new EventSource("/agent/queue/stream");
    source.onmessage = (event) => {
      const items = JSON.parse(event.data);
      if (box.contains(document.activeElement) && document.activeElement.tagName === "BUTTON") return;  // don't pull the focus away
      box.replaceChildren(...(items.length ? items.map((i) => queueItem(i, box.dataset.csrf))
        : [el("p", {className: "muted empty"}, "Nobody is waiting.")]));
    };
    source.addEventListener("end", () => { source.close(); window.location.href = "/agent/login"; });
  }

  function conversation(id) {
    const list = document.getElementById("transcript");
    const root = document.getElementById("conversation");
    const source = new EventSource("/agent/handoffs/" + id + "/stream");
    source.onmessage = (event) => {
      const state = JSON.parse(event.data);
      if (state.lines) {
        list.replaceChildren(...state.lines.map((line) =>
          el("li", {className: "line " + line.who}, el("span", {className: "who"}, line.who), " " + line.text,
            line.not_delivered ? el("span", {className: "notice small"}, " (not delivered: " + line.not_delivered + ")") : null,
            line.sent_as ? el("span", {className: "muted small"}, " (" + line.sent_as + ")") : null)));
        list.scrollTop = list.scrollHeight;
      }
      if (state.status !== root.dataset.status) {
        // Claimed by someone, or closed: reload so the right actions show (unless the agent is typing).
        const typing = document.activeElement && ["TEXTAREA", "INPUT"].includes(document.activeElement.tagName)
          && document.activeElement.value;
        if (!typing) window.location.reload();
      }
    };
    source.addEventListener("end", () => source.close());
  }

  return {queue, conversation};
})();
