"""How evidence events read on the escalation timeline (pure functions over audit data)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from watchfloor.audit.events import AuditAction
from watchfloor.evidence.models import Category


def _category(data: dict[str, Any]) -> str:
    try:
        return Category(str(data.get("category"))).label
    except ValueError:
        return str(data.get("category") or "")


def _added(data: dict[str, Any]) -> tuple[str, str]:
    name = data.get("name") or data.get("content_id") or data.get("url") or ""
    parts = [str(data.get("item", "")), str(name), _category(data)]
    if data.get("sha256"):
        parts.append(f"SHA-256 {str(data['sha256'])[:16]}…")
    if not data.get("stored"):
        parts.append("hashes and metadata only")
    return " · ".join(p for p in parts if p), ""


def _revealed(data: dict[str, Any]) -> tuple[str, str]:
    return f"{data.get('item', '')} · {_category(data)} · for {data.get('seconds', '?')} s", ""


def _refused(data: dict[str, Any]) -> tuple[str, str]:
    return f"{data.get('item', '')} · {_category(data)}", str(data.get("reason", ""))


def _hold(data: dict[str, Any]) -> tuple[str, str]:
    return str(data.get("item", "")), str(data.get("reason", ""))


def _exported(data: dict[str, Any]) -> tuple[str, str]:
    package = str(data.get("package_sha256", ""))[:16]
    again = ", downloaded" if data.get("downloaded") else ""
    return f"{data.get('item', '')} in package {package}…{again}", ""


def _package(data: dict[str, Any]) -> tuple[str, str]:
    asked = f" for PR-{data['partner_request']}" if data.get("partner_request") else ""
    return f"{data.get('package', '')} {str(data.get('package_sha256', ''))[:16]}…{asked}", ""


def _package_built(data: dict[str, Any]) -> tuple[str, str]:
    items = [str(item) for item in data.get("items") or []]
    asked = f" for PR-{data['partner_request']}" if data.get("partner_request") else ""
    return (
        f"{str(data.get('package_sha256', ''))[:16]}… of {len(items)} item"
        f"{'' if len(items) == 1 else 's'} ({', '.join(items)}){asked}",
        "",
    )


def _purged(data: dict[str, Any]) -> tuple[str, str]:
    return f"{data.get('item', '')} · kept {data.get('retention_days', '?')} days", ""


ESCALATION_TIMELINE_DESCRIBERS: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
    AuditAction.EVIDENCE_ADDED: _added,
    AuditAction.EVIDENCE_REVEALED: _revealed,
    AuditAction.EVIDENCE_REVEAL_REFUSED: _refused,
    AuditAction.EVIDENCE_HOLD_PLACED: _hold,
    AuditAction.EVIDENCE_HOLD_LIFTED: _hold,
    AuditAction.EVIDENCE_EXPORTED: _exported,
    AuditAction.EVIDENCE_PACKAGE_BUILT: _package_built,
    AuditAction.EVIDENCE_PACKAGE_DOWNLOADED: _package,
    AuditAction.EVIDENCE_PURGED: _purged,
}
