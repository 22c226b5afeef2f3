"""Both apps speak one register (Catalan *vós*, Spanish *usted*) and one vocabulary
(docs/decisions.md, "Catalan and Spanish: one register, one vocabulary"): a new string in *tu*,
or one saying *denúncia*, *safata* or *el informante*, fails here with the msgid named. So does
an imperative in the wrong form: *tu* / *tú* in a sentence, *vós* / *usted* on a button
(docs/decisions.md, "The imperative: *tu* on a button, *vós* in a sentence"). Read: both
catalogues, the questionnaire and the inbox's standard replies."""

import re
import sys
import tomllib
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from whistle.inbox.replies import TEMPLATES

ROOT = Path(__file__).resolve().parent.parent / "whistle"

#: Words that break the register or the vocabulary, per language.
FORBIDDEN = {
    "ca": [
        (r"\b(teu|teva|teus|teves|tens|pots|vols|saps|ets|facis|puguis|diguis)\b", "tu (use vós)"),
        (r"\b[Vv]ostès?\b", "vostè (the institution says vós)"),
        (r"\b[Dd]en[uú]nci", "denúncia (use comunicació)"),
        (r"\bsafata\b", "safata (the inbox is la bústia)"),
        (
            r"(?<![Pp]ersona )(?<![Pp]ersones )(?<!Protecció de l')\b[Ii]nformants?\b",
            "informant (use la persona informant)",
        ),
        (r"\bpersona custòdia\b", "persona custòdia (el custodi o la custòdia)"),
        (
            r"\b(responsable del sistema|un responsable|gestors?)\b",
            "the IT role is persona administradora (the legal post is capitalised)",
        ),
    ],
    "es": [
        (
            r"\b(tu|tus|tú|ti|contigo|puedes|tienes|quieres|sabes|eres|has enviado)\b",
            "tú (use usted)",
        ),
        (r"\b([Oo]s|[Vv]uestr[oa]s?|[Vv]osotr[oa]s)\b", "vosotros (use usted)"),
        (r"\b[Dd]enunci", "denuncia (use comunicación)"),
        (r"\bbandeja\b", "bandeja (the inbox is el buzón)"),
        (
            r"(?<![Pp]ersona )(?<![Pp]ersonas )(?<!Protección del )\b[Ii]nformantes?\b",
            "informante (use la persona informante)",
        ),
        (r"\bpersona custodia\b", "persona custodia (custodio/a, or the person in charge)"),
        (
            r"\b(responsable del sistema|un responsable|gestor|gestores)\b",
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
                    where = f"{app}: {message.id}"
                    if message.context:
                        where += f" [{message.context}]"
                    texts += [(where, text) for text in strings]
    questionnaire = tomllib.loads((ROOT / "submit" / "questionnaire.toml").read_text("utf-8"))
    for field in questionnaire["questions"]:
        for part in ("label", "help"):
            if language in field.get(part, {}):
                texts.append((f"questionnaire: {field.get('key')}.{part}", field[part][language]))
    for kind, languages in TEMPLATES.items():  # the inbox's standard replies to the source
        if language in languages:
            texts.append((f"reply template: {kind}", languages[language]))
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
        ("ca", "Missatges d'informants sense llegir"),
        ("ca", "Només una persona custòdia de la identitat pot fer-ho."),
        ("ca", "Els gestors donen d'alta el personal."),
        ("es", "Escribe tu código."),
        ("es", "La denuncia se ha recibido."),
        ("es", "Respuestas al informante"),
        ("es", "Os responderemos en vuestro idioma."),
        ("ca", "Vostè pot tornar amb el codi."),
        ("es", "Si no tiene ninguna, un responsable con la clave de recuperación…"),
    ],
)
def test_a_planted_string_in_the_wrong_register_is_caught(language: str, planted: str) -> None:
    assert any(re.search(pattern, planted) for pattern, _ in FORBIDDEN[language])


# ---------------------------------------------------------------------------------------------
# The imperative. Optimot (fitxa 9757, "Accions en les interfícies digitals: infinitiu o
# imperatiu?") gives Catalan two forms: the program tells the reader what to do in *vós*
# (Introduïu, Premeu) and the reader tells the program in *tu* (Desa, Envia, Torna a l'inici);
# Spanish names the reader's command in the infinitive (Enviar, Guardar) and gives instructions
# in *usted* (Escriba, Vuelva). So a *tu* imperative is right on a button and wrong in a sentence,
# which a word list alone cannot tell: the command labels are read from the templates.

#: Second-person imperatives of the verbs the catalogues use: Catalan *tu* → *vós*.
CA_IMPERATIVES = {
    "accepta": "accepteu", "actualitza": "actualitzeu", "adjunta": "adjunteu",
    "afegeix": "afegiu", "ajorna": "ajorneu", "amplia": "amplieu", "anota": "anoteu",
    "aplica": "apliqueu", "apunta": "apunteu", "assigna": "assigneu", "avisa": "aviseu",
    "bloqueja": "bloquegeu", "buida": "buideu", "canvia": "canvieu",
    "cerca": "cerqueu", "clica": "cliqueu", "compara": "compareu", "completa": "completeu",
    "comprova": "comproveu", "comunica": "comuniqueu", "confirma": "confirmeu",
    "conserva": "conserveu",
    "connecta": "connecteu", "copia": "copieu", "decideix": "decidiu", "deixa": "deixeu",
    "demana": "demaneu", "desa": "deseu", "descarrega": "descarregueu", "desmarca": "desmarqueu",
    "desconfia": "desconfieu", "dona": "doneu", "dóna": "doneu", "elimina": "elimineu",
    "emplena": "empleneu", "entra": "entreu", "envia": "envieu", "escriu": "escriviu",
    "esborra": "esborreu", "espera": "espereu", "fes": "feu", "filtra": "filtreu",
    "guarda": "guardeu", "imprimeix": "imprimiu", "indica": "indiqueu", "inicia": "inicieu",
    "insereix": "inseriu", "introdueix": "introduïu", "llegeix": "llegiu", "marca": "marqueu",
    "mira": "mireu", "mostra": "mostreu", "obre": "obriu", "ofereix": "oferiu", "posa": "poseu",
    "prem": "premeu", "recorda": "recordeu", "recull": "recolliu", "registra": "registreu",
    "rellegeix": "rellegiu",
    "renova": "renoveu", "repeteix": "repetiu", "respon": "responeu", "revisa": "reviseu",
    "selecciona": "seleccioneu", "suprimeix": "suprimiu", "torna": "torneu", "tracta": "tracteu",
    "trasllada": "traslladeu", "treu": "traieu", "tria": "trieu", "usa": "useu",
    "utilitza": "utilitzeu", "veges": "vegeu", "ves": "aneu", "vés": "aneu",
}  # fmt: skip
#: The same for Spanish: *tú* → *usted*.
ES_IMPERATIVES = {
    "abre": "abra", "accede": "acceda", "acepta": "acepte", "actualiza": "actualice",
    "adjunta": "adjunte", "amplía": "amplíe", "anota": "anote", "añade": "añada",
    "aplaza": "aplace", "aplica": "aplique", "apunta": "apunte", "asigna": "asigne",
    "avisa": "avise", "bloquea": "bloquee", "borra": "borre", "busca": "busque",
    "cambia": "cambie", "comprueba": "compruebe", "compara": "compare", "completa": "complete",
    "comunica": "comunique", "confirma": "confirme", "conecta": "conecte", "conserva": "conserve",
    "copia": "copie", "crea": "cree", "recuerda": "recuerde",
    "da": "dé", "decide": "decida", "deja": "deje", "descarga": "descargue",
    "desmarca": "desmarque",
    "desconfía": "desconfíe", "elige": "elija", "elimina": "elimine", "entra": "entre",
    "envía": "envíe", "escribe": "escriba", "espera": "espere", "filtra": "filtre",
    "guarda": "guarde", "haz": "haga", "imprime": "imprima", "indica": "indique",
    "inicia": "inicie", "inserta": "inserte", "intenta": "intente", "introduce": "introduzca",
    "lee": "lea", "lleva": "lleve", "marca": "marque", "mira": "mire", "muestra": "muestre",
    "ofrece": "ofrezca", "pide": "pida", "pon": "ponga", "pulsa": "pulse", "quita": "quite",
    "recoge": "recoja", "registra": "registre", "relee": "relea", "rellena": "rellene",
    "renueva": "renueve", "repite": "repita", "responde": "responda", "revisa": "revise",
    "selecciona": "seleccione", "suprime": "suprima", "traslada": "traslade", "trata": "trate",
    "usa": "use", "utiliza": "utilice", "vacía": "vacíe", "ve": "vaya", "vuelve": "vuelva",
}  # fmt: skip
#: Formal imperatives whose *tú* form is already a key above (ve: ir → vaya, ver → vea).
ES_ALSO = {"vea"}
IMPERATIVES = {"ca": CA_IMPERATIVES, "es": ES_IMPERATIVES}
#: Sentence-initial words in *-eu/-iu* that are not imperatives (present: "Heu donat…").
CA_NOT_IMPERATIVE = {"heu", "podeu", "voleu", "sou", "teniu", "esteu", "haureu", "motiu", "feu"}
#: A *tu* form that is also a noun in the phrase that follows it ("Copia de seguridad …").
ES_NOUNS = re.compile(r"(?i)\bcopia de\b")
#: Where a sentence starts: the string's start, after . : ; ? ! and a space, or a dash. Not
#: after "(": "Acusa recepció (envia la resposta…)" is the third person.
_STARTS = re.compile(r"(?:^|(?<=[.:;?!])\s+|—\s*)([^\W\d_]+)(?:[-'’](\w+))?")
_ACCENTS = str.maketrans("áéíóúàèòï", "aeiouaeoi")
#: Spanish pronouns fused to an imperative ("Guárdalo", "Envíeselo").
_ES_ENCLITICS = (
    re.compile(r"(?:lo|la|los|las|le|les|me|nos|se)$"),
    re.compile(r"se(?:lo|la|los|las)$"),
)


_ES_PLAIN = {
    form.translate(_ACCENTS): form for form in [*ES_IMPERATIVES, *ES_IMPERATIVES.values(), *ES_ALSO]
}
#: Catalan pronouns joined to an imperative ("Torna-ho", "Guarda'l").
_CA_ENCLITIC = re.compile(
    r"\b([^\W\d_]+)(?:-(?:ho|hi|ne|la|les|lo|los|li|me|nos|vos|se|te)\b|['’]\w)"
)
_WORDS = re.compile(r"[^\W\d_]+")


def _es_verb(word: str) -> str:
    """A Spanish word as the imperative it is ("guárdalo" → "guarda"), or itself."""
    word = word.lower()
    if word in _ES_PLAIN.values():
        return word
    for pronouns in _ES_ENCLITICS:  # "revísela": revise + la, not revi + sela
        bare = pronouns.sub("", word)  # its accent moved ("guárda-lo"), so compare without
        if bare != word and bare.translate(_ACCENTS) in _ES_PLAIN:
            return _ES_PLAIN[bare.translate(_ACCENTS)]
    return word  # "de" is not "dé"


def sentence_verbs(text: str, language: str) -> list[str]:
    """The first word of each sentence of ``text``, lower-case, without its pronouns."""
    words = []
    for match in _STARTS.finditer(text):
        if language == "es" and ES_NOUNS.match(text, match.start(1)):
            continue
        word = match.group(1)
        words.append(_es_verb(word) if language == "es" else word.lower())
    return words


def joined_verbs(text: str, language: str) -> list[str]:
    """Imperatives with a pronoun joined to them, anywhere: no other form takes one that way
    («torna-ho», «guárdalo»), so they need no sentence start to be told from a third person."""
    if language == "ca":
        return [match.group(1).lower() for match in _CA_ENCLITIC.finditer(text)]
    return [
        _es_verb(word)
        for word in _WORDS.findall(text)
        if any(p.search(word.lower()) for p in _ES_ENCLITICS) and _es_verb(word) != word.lower()
    ]


def tu_imperatives(text: str, language: str) -> list[str]:
    text = re.sub(r"«[^»]*»", "«»", text)  # a button's own name, quoted: «Fes claus noves»
    found = sentence_verbs(text, language) + joined_verbs(text, language)
    return [word for word in found if word in IMPERATIVES[language]]


def formal_imperatives(text: str, language: str) -> list[str]:
    forms = set(IMPERATIVES[language].values()) | (ES_ALSO if language == "es" else set())
    return [word for word in sentence_verbs(text, language) if word in forms]


#: Whole contents of a button or link (``<a>``, ``<button>``, a submit input's ``value``),
#: possibly chosen by a ``{% if %}``.
_MSGID = r"_\(\s*(?:\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)')"
_CONTROLS = (
    re.compile(r"<button\b[^>]*>(?:\s*\{%[^%]*%\})*\s*\{\{\s*" + _MSGID),
    re.compile(r"<input\b[^>]*type=\"submit\"[^>]*value=\"\{\{\s*" + _MSGID),
    re.compile(r"<a\b[^>]*>(?:\s*\{%[^%]*%\})*\s*\{\{\s*" + _MSGID + r"[^}]*\}\}\s*(?:\{%|</a>)"),
)
#: Links that are part of a sentence addressed to the reader (landing page: "Already reported?
#: Check in with your code to read replies…"), so they take *vós* / *usted*.
IN_A_SENTENCE = {"Check in with your code"}


_HEADING = re.compile(r"<h[1-6]\b[^>]*>\s*\{\{\s*" + _MSGID + r"[^}]*\}\}\s*</h[1-6]>")


def headings(app: str) -> set[str]:
    """The msgids an app shows as a whole heading: they name a part of the page."""
    found = set()
    for template in (ROOT / app / "templates").glob("*.html"):
        source = template.read_text("utf-8")
        found.update(match.group(1) or match.group(2) for match in _HEADING.finditer(source))
    return found


def command_labels(app: str) -> set[str]:
    """The msgids an app shows as a whole button or link: the reader's own commands (a
    lower-case one continues a sentence, "… or download it as CSV", and may be either)."""
    labels = set()
    for template in (ROOT / app / "templates").glob("*.html"):
        source = template.read_text("utf-8")
        for control in _CONTROLS:
            labels.update(match.group(1) or match.group(2) for match in control.finditer(source))
    return labels - IN_A_SENTENCE


def imperative_problems(language: str) -> list[str]:
    """Every string where the imperative breaks the rule above, with the msgid."""
    labels = {(app, label) for app in ("submit", "inbox") for label in command_labels(app)}
    titles = {(app, title) for app in ("submit", "inbox") for title in headings(app)}
    problems = []
    for where, text in _texts(language):
        app, _, msgid = where.partition(": ")
        # pgettext("button", …): the same English is a heading elsewhere («Fer una comunicació»).
        command = (app, msgid) in labels or msgid.endswith(" [button]")
        if language == "ca" and not command:
            problems += [f"{where} — «{w}» is tu (vós: say it to the reader)" for w in
                         tu_imperatives(text, language)]  # fmt: skip
        if language == "es":
            problems += [f"{where} — «{w}» is tú" for w in tu_imperatives(text, language)]
        first = formal_imperatives(text, language)[:1]
        opens = bool(first) and sentence_verbs(text, language)[:1] == first
        if (app, msgid) in titles and not command and opens:
            problems.append(f"{where} — a heading in «{first[0]}»: the infinitive names it")
        if command and opens and msgid[:1].isupper() and not msgid.endswith("."):
            want = "tu imperative (Optimot)" if language == "ca" else "infinitive"
            problems.append(f"{where} — a button or link in «{first[0]}»: {want}")
    return problems


@pytest.mark.parametrize("language", ["ca", "es"])
def test_instructions_and_buttons_take_their_own_imperative(language: str) -> None:
    assert len(command_labels("inbox")) > 50
    assert len(command_labels("submit")) > 5
    assert imperative_problems(language) == []


def uncovered_verbs() -> list[str]:
    """The imperatives said to the reader whose verb the tables above do not list."""
    vos = set(CA_IMPERATIVES.values())
    usted = set(ES_IMPERATIVES.values()) | ES_ALSO
    spanish = dict(_texts("es"))
    catalan = dict(_texts("ca"))
    missing = []
    for where, text in spanish.items():  # Spanish tells the reader to: Catalan must, in vós
        catalan_words = {word.lower() for word in _WORDS.findall(catalan.get(where, ""))}
        told = any(verb in usted for verb in sentence_verbs(text, "es"))
        if told and where in catalan and not catalan_words & vos:
            missing.append(f"{where}: ca «{catalan[where]}» (its vós verb)")
    for where, text in _texts("ca"):
        said = [w for w in sentence_verbs(text, "ca") if re.fullmatch(r"\w+(eu|iu|ïu)", w)]
        known = vos | CA_NOT_IMPERATIVE | CA_IMPERATIVES.keys()  # escriu, treu: tu in -iu/-eu
        missing += [f"{where}: ca «{w}»" for w in said if w not in known]
        spanish_verbs = {_es_verb(word) for word in _WORDS.findall(spanish.get(where, ""))}
        if any(w in vos for w in said) and where in spanish and not spanish_verbs & usted:
            missing.append(f"{where}: es «{spanish[where]}» (its usted verb)")
    return missing


def test_the_verb_tables_cover_every_imperative_the_catalogues_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new verb said to the reader («Verifiqueu…») fails here until its *tu* form is listed,
    so that a *tu* «Verifica…» elsewhere would be caught."""
    assert uncovered_verbs() == []
    planted = {
        "ca": [("x", "Verifiqueu el codi."), ("y", "Torneu-hi més tard."), ("z", "Conserva-la.")],
        "es": [("x", "Verifique el código."), ("y", "Regrese más tarde."), ("z", "Consérvela.")],
    }
    monkeypatch.setattr(sys.modules[__name__], "_texts", planted.__getitem__)
    assert uncovered_verbs() == [
        "z: ca «Conserva-la.» (its vós verb)",
        "x: ca «verifiqueu»",
        "y: es «Regrese más tarde.» (its usted verb)",
    ]


@pytest.mark.parametrize(
    ("language", "planted", "command"),
    [
        ("ca", "Escriu el vostre codi per llegir les respostes.", False),
        ("ca", "La sessió ha caducat. Torna-ho a provar.", False),
        ("ca", "No s'ha enviat res: torna enrere i tria menys fitxers.", False),
        ("ca", "Envieu el missatge", True),
        ("es", "Escribe su código para leer las respuestas.", False),
        ("es", "Los archivos no se han guardado: vuelve a elegirlos.", False),
        ("es", "Escríbalo en un papel y guárdalo en un lugar seguro.", False),
        ("es", "Guarde la categoría", True),
        ("es", "Descárguela en CSV", True),
    ],
)
def test_a_planted_imperative_in_the_wrong_form_is_caught(
    language: str, planted: str, command: bool
) -> None:
    if command:
        assert formal_imperatives(planted, language)[:1] == sentence_verbs(planted, language)[:1]
    else:
        assert tu_imperatives(planted, language)


@pytest.mark.parametrize(
    ("language", "fine"),
    [
        ("ca", "L'oficina acusa recepció de la comunicació en 7 dies i respon en 3 mesos."),
        ("ca", "Escriviu el vostre codi. Torneu-ho a provar d'aquí a un moment."),
        ("ca", "Feu claus noves («Fes claus noves») i marqueu «Trasllada'n els casos»."),
        ("es", "Copia de seguridad escrita en /media: guárdela fuera de este portátil."),
        ("es", "Acusar recibo (envía la respuesta estándar en el idioma de la persona)"),
    ],
)
def test_third_persons_and_formal_imperatives_pass(language: str, fine: str) -> None:
    assert tu_imperatives(fine, language) == []


@pytest.mark.parametrize(
    ("language", "where", "planted"),
    [
        ("ca", "submit: Please write a message.", "Escriu un missatge."),
        ("ca", "inbox: Save", "Deseu"),
        ("es", "submit: Please write a message.", "Escribe un mensaje."),
        ("es", "inbox: Save", "Guarde"),
        ("ca", "inbox: Send replies", "Envieu les respostes"),
        ("es", "inbox: Send replies", "Envíe las respuestas"),
    ],
)
def test_a_planted_string_in_a_catalogue_is_named(
    language: str, where: str, planted: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [(w, planted if w == where else text) for w, text in _texts(language)]
    assert (where, planted) in texts
    monkeypatch.setattr(sys.modules[__name__], "_texts", lambda _language: texts)
    assert [problem.split(" — ")[0] for problem in imperative_problems(language)] == [where]


def guide_paragraphs(language: str) -> list[str]:
    """The officer guide's paragraphs in ``language``, as prose: code blocks left out, a
    command in backticks read as a word (it is often the subject: "`reset-password` asks…") and
    the interface names it quotes in italics (*Desa*: the button's own *tu*) blanked."""
    path = ROOT / "inbox" / "guide" / f"officer-guide.{language}.md"
    text = re.sub(r"```.*?```", "", path.read_text("utf-8"), flags=re.S)
    text = re.sub(r"`[^`]*`", "ORDER", text)
    text = re.sub(r"(?<![*\w])\*([^*]+?)\*(?!\*)", "«…»", text)
    return [re.sub(r"\s+", " ", para) for para in re.split(r"\n\s*\n", text) if para.strip()]


@pytest.mark.parametrize("language", ["ca", "es"])
def test_the_officer_guide_speaks_the_same_register(language: str) -> None:
    paragraphs = guide_paragraphs(language)
    assert len(paragraphs) > 50
    wrong = [
        f"{why}: …{para[max(0, match.start() - 40) : match.end() + 40]}…"
        for para in paragraphs
        for pattern, why in FORBIDDEN[language]
        for match in re.finditer(pattern, para)
    ]
    wrong += [f"«{verb}» is tu: {para[:80]}…" for para in paragraphs for verb in
              tu_imperatives(para, language)]  # fmt: skip
    assert wrong == []
