"""The speech worker: a separate process, so a hung speech engine never freezes the counter.

Reads one JSON request a line on stdin: {"id": 1, "text": "微信收款 12.50 元",
"volume": 0.8, "wav": null} and answers {"id": 1, "ok": true} (or "error") on stdout
when it has spoken, or written the speech to `wav` (a WAV file) when one is given.
Speech is the platform's own, offline, through pyttsx3: SAPI5 on Windows, the system
voice on macOS, espeak-ng on Linux. A Chinese voice is chosen for Chinese text.
"""

from __future__ import annotations

import json
import os
import sys


def _chinese_voice(engine) -> str | None:
    try:
        voices = engine.getProperty("voices") or []
    except Exception:
        return None
    for voice in voices:
        ident = f"{getattr(voice, 'id', '')} {getattr(voice, 'name', '')} {getattr(voice, 'languages', '')}".lower()
        if any(tag in ident for tag in ("cmn", "zh_cn", "zh-cn", "chinese", "ting-ting", "huihui", "mandarin")):
            if "pinyin" not in ident and "latn" not in ident:
                return voice.id
    return None


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def main() -> int:
    # The answers go to the real stdout; anything the speech library prints goes to stderr.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    sys.stdout = sys.stderr
    try:
        import pyttsx3

        engine = pyttsx3.init()
    except Exception as exc:  # no speech engine on this computer: say so for every request
        engine, failure = None, f"{type(exc).__name__}: {exc}"[:200]
    else:
        failure = ""
    zh_voice = _chinese_voice(engine) if engine is not None else None
    for raw in sys.stdin:
        try:
            request = json.loads(raw)
            ident = request.get("id")
        except ValueError:
            continue
        if engine is None:
            answers.write(json.dumps({"id": ident, "ok": False, "error": failure}) + "\n")
            continue
        try:
            text = str(request.get("text", ""))[:500]
            engine.setProperty("volume", max(0.0, min(1.0, float(request.get("volume", 1.0)))))
            if zh_voice and _has_cjk(text):
                engine.setProperty("voice", zh_voice)
            if request.get("wav"):
                engine.save_to_file(text, str(request["wav"]))
            else:
                engine.say(text)
            engine.runAndWait()
        except Exception as exc:
            answers.write(json.dumps({"id": ident, "ok": False, "error": f"{type(exc).__name__}: {exc}"[:200]}) + "\n")
        else:
            answers.write(json.dumps({"id": ident, "ok": True}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
