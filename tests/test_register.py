"""Both apps speak one register (Catalan *vós*, Spanish *usted*) and one vocabulary
(docs/decisions.md, "Catalan and Spanish: one register, one vocabulary"): a new string in *tu*,
or one saying *denúncia*, *safata* or *el informante*, fails here with the msgid named."""

import re
import tomllib
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent / "whistle"

#: Words that break the register or the vocabulary, per language.
FORBIDDEN = {
    "ca": [
        (r"\b(teu|teva|teus|teves|tens|pots|vols|saps|ets|facis|puguis|diguis)\b", "tu (use vós)"),
        (r"\b[Dd]en[uú]nci", "denúncia (use comunicació)"),
        (r"\bsafata\b", "safata (the inbox is la bústia)"),
        (r"(?<!Protecció de )\b[Ll]'[Ii]nformant\b", "l'informant (use la persona informant)"),
        (
            r"\bresponsable del sistema\b",
            "the IT role is persona administradora (the legal post is capitalised)",
        ),
    ],
    "es": [
        (
            r"\b(tu|tus|tú|ti|contigo|puedes|tienes|quieres|sabes|eres|has enviado)\b",
            "tú (use usted)",
        ),
        (r"\b[Dd]enunci", "denuncia (use comunicación)"),
        (r"\bbandeja\b", "bandeja (the inbox is el buzón)"),
        (r"\b([Ee]l|[Aa]l|[Dd]el) informante\b", "el informante (use la persona informante)"),
        (r"\bpersona custodia\b", "persona custodia (custodio/a, or the person in charge)"),
        (
            r"\bresponsable del sistema\b",
            "the IT role is persona administradora (the legal post is capitalised)",
        ),
    ],
}


def _texts(language: str) -> list[tuple[str, str]]:
    texts = []
    for app in ("submit", "inbox"):
        path = ROOT / app / "translations" / language / "LC_MESSAGES" / "messages.po"
        with path.open("rb") as handle:
            for message in read_po(handle):
                if message.id:
                    strings = (
                        message.string if isinstance(message.string, tuple) else (message.string,)
                    )
                    texts += [(f"{app}: {message.id}", text) for text in strings]
    questionnaire = tomllib.loads((ROOT / "submit" / "questionnaire.toml").read_text("utf-8"))
    for field in questionnaire["questions"]:
        for part in ("label", "help"):
            if language in field.get(part, {}):
                texts.append((f"questionnaire: {field.get('key')}.{part}", field[part][language]))
    return texts


@pytest.mark.parametrize("language", ["ca", "es"])
def test_one_register_and_one_vocabulary(language: str) -> None:
    texts = _texts(language)
    assert len(texts) > 600  # both catalogues and the questionnaire were read
    wrong = [
        f"{where} — {why}: {text}"
        for where, text in texts
        for pattern, why in FORBIDDEN[language]
        if re.search(pattern, text)
    ]
    assert wrong == []


@pytest.mark.parametrize(
    ("language", "planted"),
    [
        ("ca", "Escriu el teu codi."),
        ("ca", "La denúncia s'ha rebut."),
        ("ca", "Respostes a l'informant"),
        ("es", "Escribe tu código."),
        ("es", "La denuncia se ha recibido."),
        ("es", "Respuestas al informante"),
    ],
)
def test_a_planted_string_in_the_wrong_register_is_caught(language: str, planted: str) -> None:
    assert any(re.search(pattern, planted) for pattern, _ in FORBIDDEN[language])
