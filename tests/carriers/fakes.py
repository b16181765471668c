"""A local HTTP server that answers as UPS, FedEx, DHL Express (XML-PI), Onfleet and our REST contract do.

Formats from the providers' public API documentation; the payloads are our own. `faults` makes a
path prefix answer slowly, with a 5xx, a 429 or a 4xx body, to see timeouts, retries and the breaker.
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.processes.devstack import free_port

API_KEY = "test-api-key"


@dataclass
class Fake:
    """What the fake carriers hold and how they misbehave; tests change it between calls."""

    ups: dict[str, dict[str, Any]] = field(default_factory=dict)  # tracking number → package
    fedex: dict[str, dict[str, Any]] = field(default_factory=dict)  # tracking number → trackResult
    dhl: dict[str, str] = field(default_factory=dict)  # AWB → <ShipmentInfo> XML
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # Onfleet task id → task
    rest: dict[str, dict[str, Any]] = field(default_factory=dict)  # tracking number → REST shipment
    claims: dict[str, Any] = field(default_factory=dict)  # REST claim id → the claim request body
    faults: dict[str, Any] = field(default_factory=dict)  # path prefix → "slow" | status code
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    bodies: list[tuple[str, str, Any]] = field(default_factory=list)  # (method, path, JSON body) of changes
    slow_seconds: float = 2.0
    shipments: list[tuple[str, Any]] = field(default_factory=list)  # (carrier, request body) of labels created
    refuse_shipments: bool = False  # UPS/FedEx/DHL answer a shipment request with their address error


    def count(self, prefix: str) -> int:
        return sum(1 for _, path in self.calls if path.startswith(prefix))


# -- error bodies, as each provider writes them ---------------------------------------------------
def _ups_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"response": {"errors": [{"code": code, "message": message}]}}, status_code=status)


def _fedex_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"transactionId": "tx-1", "errors": [{"code": code, "message": message}]}, status_code=status)


def _onfleet_error(status: int, code: int, name: str, message: str) -> JSONResponse:
    return JSONResponse({"code": name, "message": {"error": code, "message": message, "cause": None,
                                                   "request": "req-1"}}, status_code=status)


def _rest_error(status: int, code: str, message: str, reason: str | None = None) -> JSONResponse:
    error = {"code": code, "message": message, **({"reason": reason} if reason else {})}
    return JSONResponse({"error": error}, status_code=status)


def label_image(fmt: str) -> str:
    """A small real label image (GIF as UPS sends, PDF as FedEx and DHL do), base64."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (400, 600), "white")
    ImageDraw.Draw(image).text((20, 20), "RETURN LABEL", fill="black")
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return base64.b64encode(buffer.getvalue()).decode()


ONFLEET_HEADERS = {"X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "19"}


def build_app(fake: Fake) -> Starlette:
    counter = itertools.count(1)

    async def faults(request: Request) -> Response | None:
        fake.calls.append((request.method, request.url.path))
        for prefix, fault in fake.faults.items():
            if not request.url.path.startswith(prefix):
                continue
            if fault == "slow":
                await asyncio.sleep(fake.slow_seconds)
                return None
            if fault == 429:
                if request.url.path.startswith("/onfleet"):
                    return _onfleet_error(429, 2300, "TooManyRequests", "Too many requests")
                return JSONResponse({"error": {"code": "rate_limited", "message": "slow down"}}, status_code=429)
            if fault == 400 and request.url.path.startswith("/onfleet"):
                return _onfleet_error(400, 1000, "InvalidArgument", "The destination could not be geocoded")
            if fault == 502:
                return Response("<html><body>502 Bad Gateway</body></html>", status_code=502, media_type="text/html")
            if fault == 500:
                if request.url.path.startswith("/onfleet"):
                    return _onfleet_error(500, 2500, "InternalError", "Internal error")
                if request.url.path.startswith("/ups"):
                    return _ups_error(500, "9000", "Internal server error")
                return JSONResponse({"error": {"code": "internal", "message": "internal"}}, status_code=500)
        return None

    # -- UPS -----------------------------------------------------------------------------------
    async def ups_token(request: Request) -> Response:
        if (stop := await faults(request)) is not None:
            return stop
        if not request.headers.get("authorization", "").startswith("Basic "):
            return _ups_error(401, "250002", "Invalid Authentication Information.")
        return JSONResponse({"token_type": "Bearer", "issued_at": str(int(time.time() * 1000)),
                             "client_id": "client", "access_token": f"ups-token-{next(counter)}",
                             "expires_in": "14399", "status": "approved"})

    async def ups_track(request: Request) -> Response:
        if (stop := await faults(request)) is not None:
            return stop
        number = request.path_params["number"]
        package = fake.ups.get(number)
        if package is None:
            return _ups_error(404, "TW0001", "Tracking Information Not Found")
        return JSONResponse({"trackResponse": {"shipment": [{"inquiryNumber": number, "package": [package]}]}})

    async def ups_ship(request: Request) -> Response:
        """Shipping API v2409: a ShipmentRequest in, ShipmentResults with a GIF label out."""
        if (stop := await faults(request)) is not None:
            return stop
        if not request.headers.get("authorization", "").startswith("Bearer ups-token-"):
            return _ups_error(401, "250002", "Invalid Authentication Information.")
        body = await request.json()
        fake.shipments.append(("ups", body))
        shipment = body["ShipmentRequest"]["Shipment"]
        if fake.refuse_shipments:
            return _ups_error(400, "120802", "Address Validation Error on ShipFrom address")
        if not shipment.get("Shipper", {}).get("ShipperNumber"):
            return _ups_error(400, "120100", "Missing or invalid shipper number")
        number = f"1Z999AA1{next(counter):010d}"
        return JSONResponse({"ShipmentResponse": {
            "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"},
                         "TransactionReference": body["ShipmentRequest"]["Request"]["TransactionReference"]},
            "ShipmentResults": {
                "ShipmentCharges": {"TransportationCharges": {"CurrencyCode": "EUR", "MonetaryValue": "9.80"},
                                    "ServiceOptionsCharges": {"CurrencyCode": "EUR", "MonetaryValue": "0.00"},
                                    "TotalCharges": {"CurrencyCode": "EUR", "MonetaryValue": "9.80"}},
                "BillingWeight": {"UnitOfMeasurement": {"Code": "KGS", "Description": "Kilograms"}, "Weight": "1.0"},
                "ShipmentIdentificationNumber": number,
                "PackageResults": [{"TrackingNumber": number, "ServiceOptionsCharges": {
                    "CurrencyCode": "EUR", "MonetaryValue": "0.00"},
                    "ShippingLabel": {"ImageFormat": {"Code": "GIF", "Description": "GIF"},
                                      "GraphicImage": label_image("GIF")}}],
            }}})

    # -- FedEx ---------------------------------------------------------------------------------
    async def fedex_token(request: Request) -> Response:
        if (stop := await faults(request)) is not None:
            return stop
        form = await request.form()
        if not form.get("client_id") or not form.get("client_secret"):
            return _fedex_error(401, "NOT.AUTHORIZED.ERROR", "The given client credentials were not valid.")
        return JSONResponse({"access_token": f"fedex-token-{next(counter)}", "token_type": "bearer",
                             "expires_in": 3599, "scope": "CXS"})

    async def fedex_track(request: Request) -> Response:
        if (stop := await faults(request)) is not None:
            return stop
        body = await request.json()
        results = []
        for info in body.get("trackingInfo", []):
            number = info["trackingNumberInfo"]["trackingNumber"]
            result = fake.fedex.get(number)
            if result is None:
                result = {"trackingNumberInfo": {"trackingNumber": number},
                          "error": {"code": "TRACKING.TRACKINGNUMBER.NOTFOUND",
                                    "message": "Tracking number cannot be found. Please correct the tracking number."}}
            results.append({"trackingNumber": number, "trackResults": [result]})
        return JSONResponse({"transactionId": "tx-1", "output": {"completeTrackResults": results}})

    async def fedex_ship(request: Request) -> Response:
        """Ship API: requestedShipment in, transactionShipments with an encoded PDF label out."""
        if (stop := await faults(request)) is not None:
            return stop
        if not request.headers.get("authorization", "").startswith("Bearer fedex-token-"):
            return _fedex_error(401, "NOT.AUTHORIZED.ERROR", "The given client credentials were not valid.")
        body = await request.json()
        fake.shipments.append(("fedex", body))
        if fake.refuse_shipments:
            return _fedex_error(400, "SHIPPER.POSTALSTATE.MISMATCH",
                                "The postal code and state/province code entered are not valid for the shipper.")
        if not body.get("accountNumber", {}).get("value"):
            return _fedex_error(400, "ACCOUNT.NUMBER.MISMATCH", "The account number in the request is invalid.")
        number = f"7949{next(counter):08d}"
        service = body["requestedShipment"].get("serviceType", "FEDEX_REGIONAL_ECONOMY")
        piece = {"masterTrackingNumber": number, "trackingNumber": number, "serviceCategory": "EXPRESS",
                 "trackingIdType": "FEDEX", "deliveryDatestamp": "2026-11-26",
                 "packageDocuments": [{"contentType": "LABEL", "copiesToPrint": 1, "docType": "PDF",
                                       "encodedLabel": label_image("PDF")}],
                 "customerReferences": [], "additionalChargesDiscount": 0.0}
        return JSONResponse({"transactionId": "tx-ship-1", "output": {"transactionShipments": [{
            "serviceType": service, "shipDatestamp": "2026-11-24", "serviceCategory": "EXPRESS",
            "shipmentDocuments": [], "pieceResponses": [piece], "serviceName": "FedEx Regional Economy",
            "masterTrackingNumber": number, "alerts": [],
            "completedShipmentDetail": {"usDomestic": False, "carrierCode": "FDXE", "masterTrackingId": {
                "trackingIdType": "FEDEX", "formId": "0201", "trackingNumber": number}},
        }]}})

    # -- DHL Express XML-PI --------------------------------------------------------------------
    async def dhl_servlet(request: Request) -> Response:
        if (stop := await faults(request)) is not None:
            return stop
        text = (await request.body()).decode()
        if "ShipmentRequest" in text[:400]:
            return dhl_shipment(text)
        numbers = [part.split("</AWBNumber>")[0] for part in text.split("<AWBNumber>")[1:]]
        awbs = []
        for number in numbers:
            info = fake.dhl.get(number)
            if info is None:
                awbs.append(f"<AWBInfo><AWBNumber>{number}</AWBNumber><Status><ActionStatus>No Shipments Found</ActionStatus>"
                            "<Condition><ConditionCode>101</ConditionCode><ConditionData>No Shipments Found for AWBNumber"
                            f" {number}</ConditionData></Condition></Status></AWBInfo>")
            else:
                awbs.append(f"<AWBInfo><AWBNumber>{number}</AWBNumber><Status><ActionStatus>success</ActionStatus></Status>"
                            f"{info}</AWBInfo>")
        xml = ('<?xml version="1.0" encoding="UTF-8"?><req:TrackingResponse xmlns:req="http://www.dhl.com" '
               'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><Response><ServiceHeader>'
               '<MessageTime>2026-11-24T08:00:00+01:00</MessageTime><MessageReference>ref</MessageReference>'
               f'<SiteID>site</SiteID></ServiceHeader></Response>{"".join(awbs)}</req:TrackingResponse>')
        return Response(xml, media_type="application/xml")

    def dhl_shipment(text: str) -> Response:
        """XML-PI ShipmentRequest in, ShipmentResponse with AirwayBillNumber and a PDF LabelImage out."""
        fake.shipments.append(("dhl_express", text))
        header = ('<Response><ServiceHeader><MessageTime>2026-11-24T08:00:00+01:00</MessageTime>'
                  '<MessageReference>ref</MessageReference><SiteID>site</SiteID></ServiceHeader>')
        if fake.refuse_shipments:
            xml = ('<?xml version="1.0" encoding="UTF-8"?><res:ShipmentValidateErrorResponse xmlns:res="http://www.dhl.com">'
                   f'{header}<Status><ActionStatus>Error</ActionStatus><Condition><ConditionCode>PLT006</ConditionCode>'
                   '<ConditionData>Shipper postcode is invalid for the country</ConditionData></Condition></Status>'
                   '</Response></res:ShipmentValidateErrorResponse>')
            return Response(xml, media_type="application/xml")
        awb = f"{next(counter) + 4000000000:010d}"
        xml = ('<?xml version="1.0" encoding="UTF-8"?><res:ShipmentResponse xmlns:res="http://www.dhl.com">'
               f'{header}</Response><RegionCode>EU</RegionCode><Note><ActionNote>Success</ActionNote></Note>'
               f'<AirwayBillNumber>{awb}</AirwayBillNumber><BillingCode>DSA</BillingCode><Currency>EUR</Currency>'
               '<ShippingCharge>12.50</ShippingCharge><CountryCode>DE</CountryCode>'
               f'<Pieces><Piece><PieceNumber>1</PieceNumber><DataIdentifier>J</DataIdentifier>'
               f'<LicensePlate>JD01460000{awb}</LicensePlate></Piece></Pieces>'
               f'<LabelImage><OutputFormat>PDF</OutputFormat><OutputImage>{label_image("PDF")}</OutputImage></LabelImage>'
               '</res:ShipmentResponse>')
        return Response(xml, media_type="application/xml")

    # -- Onfleet -------------------------------------------------------------------------------
    def onfleet_auth(request: Request) -> Response | None:
        import base64

        header = request.headers.get("authorization", "")
        try:
            user = base64.b64decode(header.removeprefix("Basic ")).decode().split(":")[0]
        except ValueError:
            user = ""
        if user != API_KEY:
            return _onfleet_error(401, 1102, "InvalidCredentials", "Invalid API key")
        return None

    async def onfleet_match(request: Request) -> Response:
        if (stop := await faults(request) or onfleet_auth(request)) is not None:
            return stop
        wanted = await request.json()
        found = [t for t in fake.tasks.values()
                 if all(any(m["name"] == w["name"] and m["value"] == w["value"] for m in t.get("metadata", []))
                        for w in wanted)]
        return JSONResponse(found, headers=ONFLEET_HEADERS)

    async def onfleet_task(request: Request) -> Response:
        if (stop := await faults(request) or onfleet_auth(request)) is not None:
            return stop
        task = fake.tasks.get(request.path_params["task_id"])
        if task is None:
            return _onfleet_error(404, 1402, "ResourceNotFound", "The requested resource does not exist.")
        if request.method == "PUT":
            body = await request.json()
            fake.bodies.append(("PUT", request.url.path, body))
            if task["state"] == 3:
                return _onfleet_error(400, 1008, "InvalidContent", "Completed tasks cannot be modified")
            if "completeBefore" in body and body["completeBefore"] <= body.get("completeAfter", 0):
                return _onfleet_error(400, 1000, "InvalidArgument", "completeBefore must be after completeAfter")
            for key, value in body.items():
                if key == "destination":
                    task["destination"] = {**task["destination"], **value, "id": task["destination"]["id"]}
                else:
                    task[key] = value
            task["timeLastModified"] = int(time.time() * 1000)
        return JSONResponse(task, headers=ONFLEET_HEADERS)

    # -- our REST contract ---------------------------------------------------------------------
    def rest_auth(request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return _rest_error(401, "unauthorized", "bad key")
        return None

    def rest_shipment(request: Request) -> dict[str, Any] | Response:
        shipment = fake.rest.get(request.path_params["number"])
        return shipment if shipment is not None else _rest_error(404, "unknown_shipment", "No such shipment.")

    async def rest_route(request: Request) -> Response:
        if (stop := await faults(request) or rest_auth(request)) is not None:
            return stop
        shipment = rest_shipment(request)
        if isinstance(shipment, Response):
            return shipment
        action = request.path_params.get("action", "")
        body = await request.json() if request.method in ("POST", "PUT") else None
        if body is not None:
            fake.bodies.append((request.method, request.url.path, body))
        settled = shipment["tracking"]["status"] in ("out_for_delivery", "delivered", "at_locker")
        if action == "" and request.method == "GET":
            return JSONResponse(shipment["tracking"])
        if action in ("windows", "pickup-windows"):
            return JSONResponse({"windows": shipment["windows"]})
        if action == "lockers":
            limit = int(request.query_params.get("limit", 5))
            return JSONResponse({"lockers": shipment["lockers"][:limit]})
        if action == "reschedule":
            if settled:
                return _rest_error(409, "change_refused", "Your parcel is already out with the driver.", "out_for_delivery")
            if body["window"] not in shipment["windows"]:
                return _rest_error(409, "change_refused", "That window is no longer available.", "window_taken")
            shipment["tracking"]["eta"] = body["window"]
            return JSONResponse({"window": body["window"]})
        if action == "redirect":
            if settled:
                return _rest_error(409, "change_refused", "Your parcel is already out with the driver.", "out_for_delivery")
            if body.get("type") == "locker":
                locker = next((lk for lk in shipment["lockers"] if lk["code"] == body["locker_code"]), None)
                if locker is None:
                    return _rest_error(409, "change_refused", "I don't know that locker.", "unknown_locker")
                shipment["tracking"]["locker_name"] = locker["name"]
                return JSONResponse({"accepted": True, "locker": locker})
            return JSONResponse({"accepted": True})
        if action == "instructions":
            return Response(status_code=204)
        if action == "returns":
            return JSONResponse({"rma": "R00000042", "method": body["method"], "label_code": "LBL-REST42",
                                 "pickup": body.get("pickup"), "locker_name": None}, status_code=201)
        if action == "claims":
            if shipment["tracking"]["status"] not in ("delivered", "failed_attempt", "at_locker"):
                return _rest_error(409, "change_refused", "That parcel is not delivered yet.", "not_yet_delivered")
            claim_id = f"RC-{len(fake.claims) + 1:04d}"
            fake.claims[claim_id] = body
            return JSONResponse({"claim_id": claim_id, "status": "open"}, status_code=201)
        return _rest_error(404, "not_found", "no such route")

    routes = [
        Route("/ups/security/v1/oauth/token", ups_token, methods=["POST"]),
        Route("/ups/api/track/v1/details/{number}", ups_track, methods=["GET"]),
        Route("/ups/api/shipments/v2409/ship", ups_ship, methods=["POST"]),
        Route("/fedex/oauth/token", fedex_token, methods=["POST"]),
        Route("/fedex/track/v1/trackingnumbers", fedex_track, methods=["POST"]),
        Route("/fedex/ship/v1/shipments", fedex_ship, methods=["POST"]),
        Route("/dhl/XMLShippingServlet", dhl_servlet, methods=["POST"]),
        Route("/onfleet/api/v2/tasks/metadata", onfleet_match, methods=["POST"]),
        Route("/onfleet/api/v2/tasks/{task_id}", onfleet_task, methods=["GET", "PUT"]),
        Route("/rest/v1/shipments/{number}", rest_route, methods=["GET"]),
        Route("/rest/v1/shipments/{number}/{action}", rest_route, methods=["GET", "POST", "PUT"]),
    ]
    return Starlette(routes=routes)


@contextmanager
def serve(fake: Fake) -> Iterator[str]:
    """Run the fake carriers on a free port; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_app(fake), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "fake carrier server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
