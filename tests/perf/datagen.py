"""`manage.py generate_data --recommendations N [--seed S]`: synthetic data at scale, for benchmarks.

Proportions follow a large real index (UHRI-like): one document per 150 recommendations, three evidence
links and ten assessments per recommendation on average (between none and twenty), most assessments
published, some submitted or returned, a few corrections; statuses, confidentialities, addressees and
themes mixed; text in English, Chinese and Uyghur (Arabic script). A few organisations, each with monitors
and curators (unusable passwords: nobody can sign in as them).

The same seed gives the same data (timestamps of creation aside). Rows are written in batches of about
5,000 recommendations per transaction: documents, evidence and recommendations with bulk_create, the
largest tables (assessments and the link tables) with plain multi-row INSERTs (see insert_rows). Both
bypass the services, so the generator derives each recommendation's status fields from its generated
published assessments with the same rule as `services.recompute_current_status` (tests/test_scale.py
checks that the two agree). History rows (simple-history) and review-transition rows are not generated.
After loading, ANALYZE gives the query planner the tables' statistics.

Speed: 300,000 recommendations (about 3 million assessments, 8 million rows in all) take a few minutes on
an idle 2-core machine with SQLite; the progress bar on stderr shows the rate.
"""

from __future__ import annotations

import bisect
import datetime
import functools
import math
import random
import time
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from cases import services
from cases.models import (
    Addressee,
    Assessment,
    Basis,
    Confidentiality,
    Document,
    Evidence,
    EvidenceKind,
    ImplementationStatus,
    IssuingBody,
    Recommendation,
    ReviewState,
    StateResponse,
    Theme,
)
from tracker.accounts.roles import CURATORS, MONITORS, ensure_groups

RECOMMENDATIONS_PER_DOCUMENT = 150
EVIDENCE_LINKS_PER_RECOMMENDATION = 3
MAX_ASSESSMENTS_PER_RECOMMENDATION = 20  # uniform 0..20: ten on average, a few never assessed
# A transaction holds this many recommendations' rows (about 50,000 assessments): large enough that commits
# cost nothing, small enough that memory stays flat.
RECOMMENDATIONS_PER_TRANSACTION = 5000
LAST_DAY = datetime.date(2025, 6, 30)

ORGANISATIONS = ["Generated NGO Aksu", "Generated NGO Kashgar", "Generated NGO Hotan"]
MONITORS_PER_ORGANISATION = 4
CURATORS_PER_ORGANISATION = 2

THEMES = [
    ("arbitrary-detention", "Arbitrary detention"),
    ("legal-framework-counter-terrorism", "Legal framework and counter-terrorism"),
    ("torture-ill-treatment", "Torture and ill-treatment"),
    ("sexual-gender-based-violence", "Sexual and gender-based violence"),
    ("enforced-disappearance-family-separation", "Enforced disappearance and family separation"),
    ("forced-labour", "Forced labour"),
    ("religious-cultural-rights", "Religious and cultural rights"),
    ("reproductive-rights", "Reproductive rights"),
    ("reprisals-transnational-repression", "Reprisals and transnational repression"),
    ("accountability-remedy", "Accountability and remedy"),
]

# One phrase per theme, in each language (same order as THEMES).
EN_OBJECTS = [
    "release all individuals arbitrarily deprived of their liberty in vocational skills education centres",
    "review the legal framework governing national security and counter-terrorism",
    "investigate allegations of torture and ill-treatment in detention facilities",
    "prevent and investigate sexual and gender-based violence in places of detention",
    "clarify the whereabouts of disappeared persons and enable family reunification",
    "end forced labour and labour transfer programmes, including in supply chains",
    "respect the religious, cultural and linguistic rights of Uyghurs and other minorities",
    "end coercive birth control measures and ensure reproductive rights",
    "refrain from reprisals against human rights defenders and their families abroad",
    "provide remedy and reparation to victims and hold perpetrators accountable",
]
EN_VERBS = [
    "Take prompt steps to",
    "Ensure that the State will",
    "Urgently",
    "Take all necessary measures to",
    "Without delay,",
    "Establish a mechanism to",
    "Continue efforts to",
    "Adopt a time-bound plan to",
]
EN_TAILS = [
    "in the Xinjiang Uyghur Autonomous Region.",
    "in line with international human rights law and standards.",
    "and report on progress to the Human Rights Council.",
    "with the participation of independent experts and civil society.",
    "and publish the relevant data, disaggregated by ethnicity and sex.",
    "consistent with article 9 of the International Covenant on Civil and Political Rights.",
]
ZH_OBJECTS = [
    "立即采取步骤释放在职业技能教育培训中心被任意剥夺自由的所有个人",
    "全面审查国家安全和反恐法律框架",
    "调查拘留设施中酷刑和虐待的指控",
    "防止并调查拘留场所中的性暴力和基于性别的暴力",
    "澄清失踪人员的下落并促进家庭团聚",
    "停止强迫劳动和劳动力转移项目，包括在供应链中",  # noqa: RUF001 - Chinese punctuation
    "尊重维吾尔族和其他少数民族的宗教、文化和语言权利",
    "停止强制性的节育措施并保障生殖权利",
    "停止对海外人权捍卫者及其家人的报复",
    "为受害者提供补救和赔偿并追究责任人的责任",
]
ZH_TAILS = ["，在新疆维吾尔自治区。", "，符合国际人权法。", "，并向人权理事会报告进展。"]  # noqa: RUF001
UG_OBJECTS = [
    "ئەركىنلىكىدىن خالىغانچە مەھرۇم قىلىنغان بارلىق كىشىلەرنى دەرھال قويۇپ بېرىش",
    "دۆلەت بىخەتەرلىكى ۋە تېرورلۇققا قارشى تۇرۇش قانۇن رامكىسىنى قايتا كۆرۈپ چىقىش",
    "قاماقخانىلاردىكى قىيناش ۋە خورلاش ئەيىبلەشلىرىنى تەكشۈرۈش",
    "قاماقتىكى جىنسىي زوراۋانلىقنىڭ ئالدىنى ئېلىش ۋە تەكشۈرۈش",
    "يوقاپ كەتكەن كىشىلەرنىڭ نەدىلىكىنى ئېنىقلاش ۋە ئائىلىلەرنى جەم قىلىش",
    "مەجبۇرىي ئەمگەك ۋە ئەمگەك كۈچى يۆتكەش پروگراممىلىرىنى توختىتىش",
    "ئۇيغۇرلارنىڭ دىنىي، مەدەنىيەت ۋە تىل ھوقۇقلىرىنى ھۆرمەتلەش",
    "مەجبۇرىي تۇغۇت چەكلەش تەدبىرلىرىنى ئاخىرلاشتۇرۇش",
    "چەت ئەلدىكى كىشىلىك ھوقۇق قوغدىغۇچىلارغا قارشى ئۆچ ئېلىشنى توختىتىش",
    "زىيانكەشلىككە ئۇچرىغۇچىلارغا تۆلەم بېرىش ۋە جاۋابكارلارنى سۈرۈشتۈرۈش",
]
UG_TAILS = ["، شىنجاڭ ئۇيغۇر ئاپتونوم رايونىدا.", "، خەلقئارا كىشىلىك ھوقۇق قانۇنىغا ئاساسەن.", "."]
LANGUAGES = [("en", 80), ("zh", 10), ("ug", 10)]

RATIONALES = {
    "en": [
        "Satellite imagery and testimony show the facilities remain in operation.",
        "The State reports that all trainees have graduated; no independent verification was possible.",
        "Families abroad still have no news of their relatives.",
        "New regulations adopted this year narrow the scope of the provision.",
        "A UN treaty body reiterated its concern in its latest concluding observations.",
    ],
    "zh": ["卫星图像和证词显示设施仍在运作。", "国家声称所有学员均已结业，无法独立核实。"],  # noqa: RUF001
    "ug": ["سۈنئىي ھەمراھ سۈرەتلىرى ۋە گۇۋاھلىقلار ئەسلىھەلەرنىڭ يەنىلا ئىشلەۋاتقانلىقىنى كۆرسىتىدۇ."],
}
PUBLISHERS = [
    "Radio Free Asia",
    "NPR",
    "RFE/RL",
    "Human Rights Watch",
    "Amnesty International",
    "OHCHR",
    "Xinhua",
    "The Associated Press",
    "Uyghur Human Rights Project",
    "Reuters",
]
ISSUING_BODIES = [
    IssuingBody.UPR,
    IssuingBody.CERD,
    IssuingBody.OHCHR,
    IssuingBody.SPECIAL_PROCEDURE,
    IssuingBody.HRC,
    IssuingBody.OTHER,
]
ROMAN = ["i", "ii", "iii", "iv", "v"]

# Weighted choices, as (value, weight).
ADDRESSEES = [(Addressee.STATE, 85), (Addressee.BUSINESS, 6), (Addressee.INTERNATIONAL, 5), (Addressee.UN, 4)]
BASES = [(Basis.INDEPENDENT, 50), (Basis.UN_FINDING, 20), (Basis.STATE_CLAIM, 30)]
FINDINGS = [
    (ImplementationStatus.NOT_IMPLEMENTED, 55),
    (ImplementationStatus.PARTIALLY_IMPLEMENTED, 20),
    (ImplementationStatus.REGRESSED, 15),
    (ImplementationStatus.IMPLEMENTED, 5),
    (ImplementationStatus.NOT_ASSESSED, 5),
]
CLAIMS = [
    (ImplementationStatus.IMPLEMENTED, 60),
    (ImplementationStatus.PARTIALLY_IMPLEMENTED, 35),
    (ImplementationStatus.NOT_ASSESSED, 5),
]
RESPONSES = [
    (StateResponse.NO_RESPONSE, 60),
    (StateResponse.ACCEPTED, 10),
    (StateResponse.NOTED, 15),
    (StateResponse.REJECTED, 15),
]
REVIEW_STATES = [(ReviewState.PUBLISHED, 85), (ReviewState.SUBMITTED, 10), (ReviewState.RETURNED, 5)]
CONFIDENTIALITIES = [
    (Confidentiality.PUBLIC, 60),
    (Confidentiality.PARTNERS, 25),
    (Confidentiality.INTERNAL, 15),
]
KINDS = [
    (EvidenceKind.NEWS, 40),
    (EvidenceKind.NGO_REPORT, 20),
    (EvidenceKind.UN_DOCUMENT, 15),
    (EvidenceKind.GOVERNMENT, 10),
    (EvidenceKind.TESTIMONY, 8),
    (EvidenceKind.ACADEMIC, 5),
    (EvidenceKind.DATASET, 2),
]
CORRECTION_RATE = 0.03


class Weighted:
    """A weighted choice that costs one random() call, so generating stays fast and reproducible."""

    def __init__(self, pairs):
        # Plain strings: comparing enum members costs more in the hot loops.
        self.values = [str(value) for value, _weight in pairs]
        total = sum(weight for _value, weight in pairs)
        running, self.bounds = 0, []
        for _value, weight in pairs:
            running += weight
            self.bounds.append(running / total)

    def __call__(self, rng: random.Random):
        return self.values[min(bisect.bisect(self.bounds, rng.random()), len(self.values) - 1)]


@dataclass(slots=True, eq=False)
class PlannedAssessment:
    """An assessment before insertion; `pk` is its reserved id."""

    index: int
    basis: str
    implementation_status: str
    state_response: str
    review_state: str
    assessed_on: datetime.date
    published_at: datetime.datetime | None
    corrects: PlannedAssessment | None = None
    evidence: list[Evidence] = field(default_factory=list)
    pk: int | None = None

    @property
    def order_key(self) -> tuple:
        # services._latest orders by (assessed_on, published_at, id) descending; published_at is distinct
        # within a recommendation here, so the id is never needed to break a tie.
        return (self.assessed_on, self.published_at)


def current_status(planned: list[PlannedAssessment]) -> tuple[str, str, PlannedAssessment | None]:
    """The rule of services.recompute_current_status, on planned rows: (implementation status, State
    response, latest State claim) from the published assessments no published correction supersedes."""
    published = [a for a in planned if a.review_state == ReviewState.PUBLISHED]
    superseded = {id(a.corrects) for a in published if a.corrects is not None}
    current = [a for a in published if id(a) not in superseded]

    def latest(rows):
        return max(rows, key=lambda a: a.order_key, default=None)

    finding = latest([a for a in current if a.basis in (Basis.INDEPENDENT, Basis.UN_FINDING)])
    response = latest([a for a in current if a.state_response != StateResponse.NO_RESPONSE])
    claim = latest([a for a in current if a.basis == Basis.STATE_CLAIM])
    return (
        finding.implementation_status if finding else ImplementationStatus.NOT_ASSESSED,
        response.state_response if response else StateResponse.NO_RESPONSE,
        claim,
    )


class Progress:
    """A one-line progress bar on stderr (a line per tenth when stderr is not a terminal)."""

    def __init__(self, stream, total: int, enabled: bool = True):
        self.stream, self.total, self.enabled = stream, max(total, 1), enabled
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.last_tenth = -1

    def update(self, done: int, detail: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        fraction = done / self.total
        tenth = int(fraction * 10)
        if self.tty and (now - self.last_draw < 0.2 and done < self.total):
            return
        if not self.tty and tenth == self.last_tenth and done < self.total:
            return
        self.last_draw, self.last_tenth = now, tenth
        bar = "#" * int(fraction * 30)
        elapsed = now - self.started
        line = f"[{bar:<30}] {fraction:4.0%} {done:,}/{self.total:,} recommendations {detail} {elapsed:5.1f}s"
        self.stream.write(
            ("\r" + line) if self.tty else line, style_func=str, ending="" if self.tty else "\n"
        )
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("")
            self.stream.flush()


class Generator:
    def __init__(self, *, recommendations: int, seed: int, progress: Progress | None = None, people: int = 0):
        self.n = recommendations
        self.people = people  # individual cases, after the recommendations (tests/perf/people_datagen.py)
        self.seed = seed
        self.rng = random.Random(seed)
        self.prefix = f"gen{seed}"
        self.progress = progress
        self.counts = {
            "documents": 0,
            "recommendations": 0,
            "evidence": 0,
            "evidence_links": 0,
            "assessments": 0,
            "assessment_evidence": 0,
            "theme_links": 0,
        }
        self.pick_language = Weighted(LANGUAGES)
        self.pick_addressee = Weighted(ADDRESSEES)
        self.pick_basis = Weighted(BASES)
        self.pick_finding = Weighted(FINDINGS)
        self.pick_claim = Weighted(CLAIMS)
        self.pick_response = Weighted(RESPONSES)
        self.pick_review = Weighted(REVIEW_STATES)
        self.pick_confidentiality = Weighted(CONFIDENTIALITIES)
        self.pick_kind = Weighted(KINDS)
        self.evidence_seq = 0
        # The database's representation of dates and times, computed once per distinct value.
        self.adapt_date = functools.lru_cache(maxsize=None)(connection.ops.adapt_datefield_value)
        self.adapt_datetime = connection.ops.adapt_datetimefield_value
        if connection.vendor == "sqlite":
            # What Django's SQLite adapter does for an aware datetime (UTC, naive, str()), minus its checks:
            # it is called for every published assessment.
            self.adapt_datetime = _sqlite_datetime

    # --- people and vocabularies ------------------------------------------------------------------------

    def setup(self) -> None:
        if Document.objects.filter(slug__startswith=f"{self.prefix}-").exists():
            raise CommandError(
                f"Data for seed {self.seed} is already in this database; "
                "use another --seed or a fresh database."
            )
        ensure_groups()
        monitors_group = Group.objects.get(name=MONITORS)
        curators_group = Group.objects.get(name=CURATORS)
        User = get_user_model()
        self.organisations = []
        for org_index, name in enumerate(ORGANISATIONS):
            organisation = services.get_or_create_organisation(name)
            staff = {"monitors": [], "curators": []}
            for role, count, group in (
                ("monitors", MONITORS_PER_ORGANISATION, monitors_group),
                ("curators", CURATORS_PER_ORGANISATION, curators_group),
            ):
                for number in range(1, count + 1):
                    username = f"gen-{org_index + 1}-{role[:-1]}-{number}"
                    user = User.objects.filter(username=username).first()
                    if user is None:
                        # No password: set_unusable_password() is what create_user does with None.
                        user = User.objects.create_user(
                            username=username, password=None, is_staff=role == "curators"
                        )
                        user.groups.add(group)
                        services.set_membership(user, organisation)
                    staff[role].append(user.pk)
            self.organisations.append((organisation.pk, staff["monitors"], staff["curators"]))
        self.themes = []
        for slug, name in THEMES:
            theme = Theme.objects.filter(slug=slug).first() or Theme.objects.filter(name=name).first()
            if theme is None:
                theme = Theme.objects.create(slug=slug, name=name)
            self.themes.append(theme.pk)

    # --- text -------------------------------------------------------------------------------------------

    def recommendation_text(self, language: str, theme: int) -> str:
        rng = self.rng
        if language == "zh":
            return ZH_OBJECTS[theme] + rng.choice(ZH_TAILS)
        if language == "ug":
            return UG_OBJECTS[theme] + rng.choice(UG_TAILS)
        text = f"{rng.choice(EN_VERBS)} {EN_OBJECTS[theme]} {rng.choice(EN_TAILS)}"
        if rng.random() < 0.4:
            other = rng.randrange(len(EN_OBJECTS))
            text += f" It should also {EN_OBJECTS[other]} {rng.choice(EN_TAILS)}"
        return text

    # random.randint() and choice() are several times slower than random(); the hot loops use these.
    def randint(self, low: int, high: int) -> int:
        return low + int(self.rng.random() * (high - low + 1))

    def pick(self, seq):
        return seq[int(self.rng.random() * len(seq))]

    def date_between(self, start: datetime.date, end: datetime.date) -> datetime.date:
        span = max((end - start).days, 0)
        return start + datetime.timedelta(days=self.randint(0, span))

    # --- rows -------------------------------------------------------------------------------------------

    def run(self) -> dict[str, int]:
        self.setup()
        documents = max(1, math.ceil(self.n / RECOMMENDATIONS_PER_DOCUMENT))
        base, extra = divmod(self.n, documents)
        sizes = [base + (1 if i < extra else 0) for i in range(documents)]
        batch: list[tuple[int, int]] = []
        in_batch = 0
        for number, size in enumerate(sizes, start=1):
            batch.append((number, size))
            in_batch += size
            if in_batch >= RECOMMENDATIONS_PER_TRANSACTION:
                self.write_batch(batch)
                batch, in_batch = [], 0
        if batch:
            self.write_batch(batch)
        if self.people:
            from tests.perf.people_datagen import PeopleGenerator

            generator = PeopleGenerator(count=self.people, seed=self.seed, organisations=self.organisations)
            self.counts.update(generator.run())
        return self.counts

    def write_batch(self, batch: list[tuple[int, int]]) -> None:
        rng = self.rng
        with transaction.atomic():
            document_rows = [self.build_document(number) for number, _size in batch]
            Document.objects.bulk_create(document_rows)
            self.counts["documents"] += len(document_rows)

            evidence_rows: list[Evidence] = []
            pools: list[list[Evidence]] = []
            recommendation_rows: list[Recommendation] = []
            plans: list[tuple[Recommendation, list[Evidence], list[PlannedAssessment]]] = []
            theme_links: list[tuple[Recommendation, int]] = []
            claims: list[tuple[Recommendation, PlannedAssessment]] = []
            for document, (_number, size) in zip(document_rows, batch, strict=True):
                pool = [
                    self.build_evidence(document)
                    for _ in range(max(EVIDENCE_LINKS_PER_RECOMMENDATION, size // 2))
                ]
                evidence_rows.extend(pool)
                pools.append(pool)
                for position in range(1, size + 1):
                    recommendation, themes = self.build_recommendation(document, position)
                    linked = rng.sample(pool, EVIDENCE_LINKS_PER_RECOMMENDATION)
                    planned = self.plan_assessments(document, linked)
                    status, response, claim = current_status(planned)
                    recommendation.implementation_status = status
                    recommendation.state_response = response
                    published = [a.published_at for a in planned if a.published_at is not None]
                    recommendation.status_updated_at = max(published) if published else None
                    recommendation_rows.append(recommendation)
                    plans.append((recommendation, linked, planned))
                    if claim is not None:
                        claims.append((recommendation, claim))
                    theme_links.extend((recommendation, theme) for theme in themes)

            Evidence.objects.bulk_create(evidence_rows)
            Recommendation.objects.bulk_create(recommendation_rows)
            self.counts["evidence"] += len(evidence_rows)
            self.counts["recommendations"] += len(recommendation_rows)

            theme_rows = [(r.pk, t) for r, t in theme_links]
            insert_rows(Recommendation.themes.through, ["recommendation_id", "theme_id"], theme_rows)
            self.counts["theme_links"] += len(theme_rows)
            link_rows = [(e.pk, r.pk) for r, linked, _p in plans for e in linked]
            insert_rows(Evidence.recommendations.through, ["evidence_id", "recommendation_id"], link_rows)
            self.counts["evidence_links"] += len(link_rows)

            # Ids are reserved up front, so corrections, citations and the State's latest claim can refer to
            # assessments without reading them back.
            assessments = [a for _r, _l, planned in plans for a in planned]
            for a, pk in zip(assessments, reserve_ids(Assessment, len(assessments)), strict=True):
                a.pk = pk
            now = connection.ops.adapt_datetimefield_value(timezone.now())
            rows = [
                self.assessment_row(recommendation, a, now)
                for recommendation, _l, planned in plans
                for a in planned
            ]
            insert_rows(Assessment, ASSESSMENT_COLUMNS, rows)
            self.counts["assessments"] += len(rows)
            cited = [(a.pk, e.pk) for a in assessments for e in a.evidence]
            insert_rows(Assessment.evidence.through, ["assessment_id", "evidence_id"], cited)
            self.counts["assessment_evidence"] += len(cited)

            # The State's latest claim refers to an assessment, which exists only now.
            if claims:
                table = connection.ops.quote_name(Recommendation._meta.db_table)
                with connection.cursor() as cursor:
                    cursor.executemany(
                        f"UPDATE {table} SET state_claim_id = %s WHERE id = %s",  # noqa: S608
                        [(claim.pk, recommendation.pk) for recommendation, claim in claims],
                    )
        if self.progress:
            self.progress.update(
                self.counts["recommendations"], f"· {self.counts['assessments']:,} assessments"
            )

    def build_document(self, number: int) -> Document:
        rng = self.rng
        body = rng.choice(ISSUING_BODIES)
        year = rng.randint(2008, 2024)
        return Document(
            slug=f"{self.prefix}-{number:05d}",
            title=f"Synthetic outcome document {number} ({body.label}, {year})",
            short_name=f"{body.label} {year} #{number}",
            symbol=f"A/HRC/GEN/{self.seed}/{number}",
            issuing_body=body,
            published_on=datetime.date(year, rng.randint(1, 12), rng.randint(1, 28)),
            url=f"https://example.org/{self.prefix}/documents/{number}",
        )

    def build_evidence(self, document: Document) -> Evidence:
        rng = self.rng
        self.evidence_seq += 1
        seq = self.evidence_seq
        language = self.pick_language(rng)
        theme = rng.randrange(len(THEMES))
        organisation_pk, monitors, _curators = rng.choice(self.organisations)
        excerpt = {"en": EN_OBJECTS[theme], "zh": ZH_OBJECTS[theme], "ug": UG_OBJECTS[theme]}[language]
        return Evidence(
            url=f"https://example.org/{self.prefix}/evidence/{seq}",
            title=f"{rng.choice(PUBLISHERS)} report {seq}: {THEMES[theme][1]}",
            publisher=rng.choice(PUBLISHERS),
            published_on=self.date_between(document.published_on, LAST_DAY),
            kind=self.pick_kind(rng),
            excerpt=excerpt,
            language=language,
            archive_url=f"https://archive.example.org/{self.prefix}/{seq}" if rng.random() < 0.3 else "",
            confidentiality=self.pick_confidentiality(rng),
            organisation_id=organisation_pk,
            added_by_id=rng.choice(monitors),
        )

    def build_recommendation(self, document: Document, position: int) -> tuple[Recommendation, list[int]]:
        rng = self.rng
        paragraph_number = 10 + (position - 1) // len(ROMAN)
        sub = ROMAN[(position - 1) % len(ROMAN)]
        theme = rng.randrange(len(THEMES))
        others = rng.sample(range(len(THEMES)), rng.randint(0, 2))
        themes = sorted({theme, *others})
        recommendation = Recommendation(
            document_id=document.pk,
            paragraph=f"{paragraph_number}({sub})",
            code=f"{document.slug}-{paragraph_number}-{sub}".upper(),
            text=self.recommendation_text(self.pick_language(rng), theme),
            addressee=self.pick_addressee(rng),
            position=position,
        )
        return recommendation, [self.themes[t] for t in themes]

    def plan_assessments(self, document: Document, linked: list[Evidence]) -> list[PlannedAssessment]:
        rng = self.rng
        count = self.randint(0, MAX_ASSESSMENTS_PER_RECOMMENDATION)
        dates = sorted(self.date_between(document.published_on, LAST_DAY) for _ in range(count))
        planned: list[PlannedAssessment] = []
        published: list[PlannedAssessment] = []
        for index, assessed_on in enumerate(dates):
            basis = self.pick_basis(rng)
            status = self.pick_claim(rng) if basis == Basis.STATE_CLAIM else self.pick_finding(rng)
            review_state = self.pick_review(rng)
            published_at = None
            if review_state == ReviewState.PUBLISHED:
                # Distinct within a recommendation (the minute is the row's index), so the "latest" rule
                # never needs the id to break a tie.
                day = min(assessed_on + datetime.timedelta(days=self.randint(0, 30)), LAST_DAY)
                published_at = datetime.datetime.combine(day, datetime.time(9, 0), tzinfo=datetime.UTC)
                published_at += datetime.timedelta(minutes=index)
            a = PlannedAssessment(
                index=index,
                basis=basis,
                implementation_status=status,
                state_response=self.pick_response(rng),
                review_state=review_state,
                assessed_on=assessed_on,
                published_at=published_at,
                evidence=self.cite(linked),
            )
            if published and rng.random() < CORRECTION_RATE:
                a.corrects = self.pick(published)
            planned.append(a)
            if review_state == ReviewState.PUBLISHED:
                published.append(a)
        return planned

    def cite(self, linked: list[Evidence]) -> list[Evidence]:
        """One of the recommendation's sources, sometimes two."""
        first = int(self.rng.random() * len(linked))
        if self.rng.random() < 0.2:
            second = (first + 1 + int(self.rng.random() * (len(linked) - 1))) % len(linked)
            return [linked[first], linked[second]]
        return [linked[first]]

    def assessment_row(self, recommendation: Recommendation, a: PlannedAssessment, now) -> tuple:
        rng, pick = self.rng, self.pick
        organisation_pk, monitors, curators = pick(self.organisations)
        language = "en" if rng.random() < 0.8 else pick(["zh", "ug"])
        reviewed = a.review_state != ReviewState.SUBMITTED
        return (
            a.pk,
            now,
            now,
            recommendation.pk,
            a.implementation_status,
            a.state_response,
            a.basis,
            self.adapt_date(a.assessed_on),
            pick(RATIONALES[language]),
            a.corrects.pk if a.corrects is not None else None,
            pick(monitors),
            organisation_pk,
            a.review_state,
            pick(curators) if reviewed else None,
            "Please cite a second, independent source." if a.review_state == ReviewState.RETURNED else "",
            self.adapt_datetime(a.published_at),
        )


def _sqlite_datetime(value: datetime.datetime | None) -> str | None:
    return None if value is None else str(value.astimezone(datetime.UTC).replace(tzinfo=None))


# The columns of assessment_row(), in order.
ASSESSMENT_COLUMNS = [
    "id",
    "created_at",
    "updated_at",
    "recommendation_id",
    "implementation_status",
    "state_response",
    "basis",
    "assessed_on",
    "rationale",
    "corrects_id",
    "author_id",
    "organisation_id",
    "review_state",
    "reviewer_id",
    "review_comment",
    "published_at",
]
INSERT_BATCH = 10_000


def insert_rows(model, columns: list[str], rows: list[tuple]) -> None:
    """A plain multi-row INSERT for the largest tables (assessments and the link tables: about eight million
    rows at 300,000 recommendations). bulk_create prepares every value of every model instance in Python,
    which is most of the time at that size; these rows are plain tuples of already-adapted values."""
    if not rows:
        return
    quote = connection.ops.quote_name
    if connection.vendor == "postgresql":
        # psycopg's executemany sends one INSERT per row, and each fires the table's statement-level
        # triggers (the public version, cases 0018): 19 recommendations a second. One COPY per batch fires
        # them once.
        statement = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_BATCH):
            cursor.executemany(sql, rows[start : start + INSERT_BATCH])


def reserve_ids(model, count: int) -> range | list[int]:
    """`count` primary keys no other row has or will get. Called inside the batch's transaction: on SQLite
    (IMMEDIATE transactions) it holds the write lock, so nobody else can insert meanwhile, and the explicit
    ids move the AUTOINCREMENT counter past them; on PostgreSQL they are drawn from the table's sequence."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        highest = cursor.fetchone()[0]
        if connection.vendor == "sqlite":
            # AUTOINCREMENT never reuses the id of a deleted row; neither do we.
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            highest = max(highest, row[0] if row else 0)
    return range(highest + 1, highest + 1 + count)
