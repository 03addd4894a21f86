"""People for `manage.py generate_data --people N` (issue 12): synthetic individual cases at scale.

Each person has names as sources give them: a Latin transliteration (most), the Uyghur Arabic script (more
than half), Chinese (a third), sometimes an alias in another spelling; a birth year, a prefecture, a mix of
consent (yes / no / unknown), risk and confidentiality (internal by default, as the form does), spread over
the generated organisations. Their situation over time: one to four dated status entries (detained, then
sentenced, transferred, released, released under restrictions, whereabouts unknown, died in custody), most
published through review by a curator of the same organisation, the latest sometimes still submitted.
`current_status` is derived from the latest published entry with the rule of
`cases.people.services.recompute_person_status` (no corrections are generated).

Links to recommendations, as the real report's 151(i) and 151(ii) gather most cases: a "hot"
recommendation (the first generated one on arbitrary detention, the 151(i) of this data set) is linked to
about 40% of the people, a second one (enforced disappearance, 151(ii)) to about 20%, and each person to
up to two more of the first 50 detention-themed recommendations.

Rows are written as the recommendations are: bulk_create for people, plain multi-row INSERTs for status
entries and link tables, in transactions of PEOPLE_PER_TRANSACTION people; the search key is computed with
`cases.people.dedupe.search_key` (memoised per name combination: names repeat).
"""

from __future__ import annotations

import datetime
import functools
import random

from django.db import connection, transaction
from django.utils import timezone

from cases.models import Organisation, Recommendation
from cases.people import dedupe
from cases.people.models import Person, PersonStatus

PEOPLE_PER_TRANSACTION = 5000
# Share of people linked to the 151(i)-like and 151(ii)-like recommendations.
HOT_SHARE = 0.4
SECOND_SHARE = 0.2
LINK_POOL = 50

# (Latin, Uyghur Arabic script, Chinese) — given names and father's names are drawn from the same list.
NAMES = [
    ("Abdurehim", "ئابدۇرېھىم", "阿不都热依木"),
    ("Abdurahman", "ئابدۇراھمان", "阿不都拉合曼"),
    ("Ilham", "ئىلھام", "伊力哈木"),
    ("Rahile", "راھىلە", "热依拉"),
    ("Gulshan", "گۈلشەن", "古丽仙"),
    ("Mihrigul", "مېھرىگۇل", "米日古丽"),
    ("Tursun", "تۇرسۇن", "吐尔逊"),
    ("Memet", "مەمەت", "买买提"),
    ("Ekpar", "ئەكپەر", "艾克拜尔"),
    ("Zumret", "زۇمرەت", "祖木热提"),
    ("Perhat", "پەرھات", "帕尔哈提"),
    ("Nurmemet", "نۇرمەمەت", "努尔买买提"),
    ("Sanubar", "سانۇبەر", "萨努巴尔"),
    ("Erkin", "ئەركىن", "艾尔肯"),
    ("Aziz", "ئەزىز", "艾则孜"),
    ("Patigul", "پاتىگۈل", "帕提古丽"),
    ("Qurban", "قۇربان", "库尔班"),
    ("Yalqun", "يالقۇن", "亚力坤"),
    ("Muhemmed", "مۇھەممەد", "穆罕默德"),
    ("Heyit", "ھېيىت", "海依提"),
    ("Tohti", "توختى", "托合提"),
    ("Abduweli", "ئابدۇۋەلى", "阿不都外力"),
    ("Dilnur", "دىلنۇر", "迪丽努尔"),
    ("Omer", "ئۆمەر", "吾买尔"),
    ("Hesen", "ھەسەن", "艾山"),
    ("Ayshem", "ئايشەم", "阿依仙木"),
    ("Kamil", "كامىل", "卡米力"),
    ("Yasin", "ياسىن", "亚森"),
    ("Mutellip", "مۇتەللىپ", "木塔力甫"),
    ("Halmurat", "ھالمۇرات", "哈力木拉提"),
]
# Other Latin spellings of some names, as sources write them (aliases).
SPELLINGS = {
    "Abdurehim": "Abdurahim",
    "Muhemmed": "Muhammad",
    "Heyit": "Hayit",
    "Tohti": "Tohtiy",
    "Memet": "Mehmet",
    "Omer": "Ömer",
    "Hesen": "Hasan",
    "Ayshem": "Aysham",
    "Mutellip": "Mutallip",
}
PREFECTURES = ["Kashgar", "Hotan", "Aksu", "Ili", "Urumqi", "Turpan", "Kumul", "Kizilsu", "Bortala", "Altay"]
ETHNICITIES = [("Uyghur", 85), ("Kazakh", 10), ("Kyrgyz", 3), ("Hui", 2)]
OCCUPATIONS = ["teacher", "farmer", "shopkeeper", "student", "doctor", "writer", "imam", "driver", "engineer"]
CONSENT = [("yes", 30), ("no", 40), ("unknown", 30)]
CONFIDENTIALITY = [("internal", 50), ("partners", 30), ("public", 20)]
RISK = [("high", 50), ("medium", 35), ("low", 15)]
GENDER = [("male", 60), ("female", 35), ("unknown", 5)]
BASES = ["family_testimony", "official_statement", "leaked_document", "court_record", "media"]
FACILITIES = ["vocational_centre", "detention_centre", "prison", "unknown"]
# What follows a detention, weighted (the last entry of a history).
OUTCOMES = [
    ("sentenced", 25),
    ("released", 15),
    ("released_restricted", 10),
    ("transferred", 10),
    ("whereabouts_unknown", 25),
    ("died_in_custody", 3),
    ("deceased", 2),
    ("detained", 10),
]
HELD = {"detained", "sentenced", "transferred"}
FIRST_DAY = datetime.date(2017, 1, 1)
LAST_DAY = datetime.date(2025, 6, 30)
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

STATUS_COLUMNS = [
    "id",
    "created_at",
    "updated_at",
    "person_id",
    "status",
    "facility_type",
    "term",
    "charge",
    "basis",
    "occurred_on",
    "note",
    "corrects_id",
    "author_id",
    "organisation_id",
    "review_state",
    "reviewer_id",
    "review_comment",
    "published_at",
]


def _weighted(pairs):
    values = [value for value, _weight in pairs]
    weights = [weight for _value, weight in pairs]
    return lambda rng: rng.choices(values, weights)[0]


class _Names:
    """A stand-in with the attributes `dedupe.search_key` reads."""

    def __init__(self, latin: str, uyghur: str, chinese: str, aliases: str):
        self.name_latin, self.name_uyghur, self.name_chinese, self.aliases = latin, uyghur, chinese, aliases


@functools.cache
def _search_key(latin: str, uyghur: str, chinese: str, aliases: str) -> str:
    return dedupe.search_key(_Names(latin, uyghur, chinese, aliases))


class PeopleGenerator:
    def __init__(self, *, count: int, seed: int, organisations: list[tuple[int, list[int], list[int]]]):
        self.count = count
        self.rng = random.Random(seed * 7919 + 12)
        self.organisations = organisations
        self.references: set[str] = set(Person.objects.values_list("reference", flat=True))
        self.pick_consent = _weighted(CONSENT)
        self.pick_confidentiality = _weighted(CONFIDENTIALITY)
        self.pick_risk = _weighted(RISK)
        self.pick_gender = _weighted(GENDER)
        self.pick_ethnicity = _weighted(ETHNICITIES)
        self.pick_outcome = _weighted(OUTCOMES)
        self.counts = {"people": 0, "person_statuses": 0, "person_links": 0}

    @classmethod
    def for_generated_organisations(cls, *, count: int, seed: int, names: list[str]) -> PeopleGenerator:
        """On a database generate_data filled earlier: its organisations and their monitors and curators."""
        from tracker.accounts.roles import CURATORS, MONITORS

        organisations = []
        for name in names:
            organisation = Organisation.objects.get(name=name)
            members = organisation.memberships.filter(user__username__startswith="gen-")
            staff = {MONITORS: [], CURATORS: []}
            for membership in members:
                for group in membership.user.groups.values_list("name", flat=True):
                    if group in staff:
                        staff[group].append(membership.user_id)
            organisations.append((organisation.pk, sorted(staff[MONITORS]), sorted(staff[CURATORS])))
        return cls(count=count, seed=seed, organisations=organisations)

    # --- recommendations the people are linked to ------------------------------------------------------

    def link_targets(self) -> tuple[int | None, int | None, list[int]]:
        detention = list(
            Recommendation.objects.filter(themes__slug="arbitrary-detention")
            .order_by("id")
            .values_list("id", flat=True)[:LINK_POOL]
        )
        disappearance = (
            Recommendation.objects.filter(themes__slug="enforced-disappearance-family-separation")
            .exclude(id__in=detention[:1])
            .order_by("id")
            .values_list("id", flat=True)
            .first()
        )
        if not detention:
            detention = list(Recommendation.objects.order_by("id").values_list("id", flat=True)[:LINK_POOL])
        hot = detention[0] if detention else None
        return hot, disappearance, detention[1:]

    # --- rows ------------------------------------------------------------------------------------------

    def reference(self) -> str:
        while True:
            value = "P-" + "".join(self.rng.choice(_ALPHABET) for _ in range(6))
            if value not in self.references:
                self.references.add(value)
                return value

    def names(self) -> tuple[str, str, str, str]:
        rng = self.rng
        given, father = rng.choice(NAMES), rng.choice(NAMES)
        latin = f"{given[0]} {father[0]}" if rng.random() < 0.8 else ""
        uyghur = f"{given[1]} {father[1]}" if rng.random() < 0.6 else ""
        chinese = f"{given[2]}·{father[2]}" if rng.random() < 0.33 else ""
        if not (latin or uyghur or chinese):
            uyghur = f"{given[1]} {father[1]}"
        aliases = ""
        other = SPELLINGS.get(given[0])
        if other and rng.random() < 0.5:
            aliases = f"{other} {SPELLINGS.get(father[0], father[0])}"
        return latin, uyghur, chinese, aliases

    def person(self, organisation: tuple[int, list[int], list[int]]) -> Person:
        rng = self.rng
        latin, uyghur, chinese, aliases = self.names()
        organisation_pk, monitors, _curators = organisation
        number = self.counts["people"] + 1
        return Person(
            reference=self.reference(),
            name_latin=latin,
            name_uyghur=uyghur,
            name_chinese=chinese,
            aliases=aliases,
            gender=self.pick_gender(rng),
            birth_year=rng.randint(1940, 2005) if rng.random() < 0.8 else None,
            ethnicity=self.pick_ethnicity(rng),
            prefecture=rng.choice(PREFECTURES),
            occupation=rng.choice(OCCUPATIONS) if rng.random() < 0.6 else "",
            xvdb_entry=str(10000 + number) if rng.random() < 0.5 else "",
            wgeid_ref=f"WG-{number:06d}" if rng.random() < 0.1 else "",
            un_communication_ref=f"CHN {rng.randint(1, 30)}/{rng.randint(2018, 2024)}"
            if rng.random() < 0.05
            else "",
            organisation_id=organisation_pk,
            consent=self.pick_consent(rng),
            risk=self.pick_risk(rng),
            confidentiality=self.pick_confidentiality(rng),
            search_key=_search_key(latin, uyghur, chinese, aliases),
            created_by_id=rng.choice(monitors) if monitors else None,
        )

    def history(self) -> list[tuple[str, str, datetime.date, str]]:
        """(status, facility type, date, review state), oldest first."""
        rng = self.rng
        span = (LAST_DAY - FIRST_DAY).days
        day = FIRST_DAY + datetime.timedelta(days=rng.randint(0, span * 2 // 3))
        steps = [("detained", rng.choice(FACILITIES), day)]
        for _ in range(rng.randint(0, 3)):
            day = min(day + datetime.timedelta(days=rng.randint(30, 700)), LAST_DAY)
            status = self.pick_outcome(rng)
            steps.append((status, rng.choice(FACILITIES) if status in HELD else "", day))
            if status in {"released", "died_in_custody", "deceased"}:
                break
        states = ["published"] * len(steps)
        if rng.random() < 0.1:
            states[-1] = "submitted"
        return [(s, f, d, state) for (s, f, d), state in zip(steps, states, strict=True)]

    def run(self) -> dict[str, int]:
        if self.count <= 0 or not self.organisations:
            return self.counts
        hot, second, pool = self.link_targets()
        done = 0
        while done < self.count:
            size = min(PEOPLE_PER_TRANSACTION, self.count - done)
            self.write_batch(size, hot, second, pool)
            done += size
        return self.counts

    def write_batch(self, size: int, hot: int | None, second: int | None, pool: list[int]) -> None:
        from tests.perf.datagen import insert_rows, reserve_ids

        rng = self.rng
        adapt_date = connection.ops.adapt_datefield_value
        adapt_datetime = connection.ops.adapt_datetimefield_value
        now = adapt_datetime(timezone.now())
        with transaction.atomic():
            people, plans = [], []
            for _ in range(size):
                organisation = rng.choice(self.organisations)
                person = self.person(organisation)
                self.counts["people"] += 1
                history = self.history()
                published = [h for h in history if h[3] == "published"]
                if published:
                    latest = published[-1]  # dates ascend: the latest published entry
                    person.current_status, person.current_facility, person.status_on = latest[:3]
                people.append(person)
                plans.append((organisation, history))
            Person.objects.bulk_create(people)

            entries = [(p, org, h) for p, (org, history) in zip(people, plans, strict=True) for h in history]
            ids = reserve_ids(PersonStatus, len(entries))
            rows = []
            for pk, (person, (organisation_pk, monitors, curators), h) in zip(ids, entries, strict=True):
                status, facility, day, state = h
                published_at = None
                if state == "published":
                    moment = datetime.datetime.combine(
                        min(day + datetime.timedelta(days=rng.randint(0, 20)), LAST_DAY),
                        datetime.time(10, 0),
                        tzinfo=datetime.UTC,
                    )
                    published_at = adapt_datetime(moment)
                rows.append(
                    (
                        pk,
                        now,
                        now,
                        person.pk,
                        status,
                        facility,
                        f"{rng.randint(2, 20)} years" if status == "sentenced" else "",
                        "Inciting ethnic hatred" if status == "sentenced" and rng.random() < 0.5 else "",
                        rng.choice(BASES),
                        adapt_date(day),
                        "",
                        None,
                        rng.choice(monitors),
                        organisation_pk,
                        state,
                        rng.choice(curators) if state == "published" else None,
                        "",
                        published_at,
                    )
                )
            insert_rows(PersonStatus, STATUS_COLUMNS, rows)
            self.counts["person_statuses"] += len(rows)

            links = []
            for person in people:
                chosen = set()
                if hot and rng.random() < HOT_SHARE:
                    chosen.add(hot)
                if second and rng.random() < SECOND_SHARE:
                    chosen.add(second)
                if pool:
                    chosen.update(rng.sample(pool, min(len(pool), rng.randint(0, 2))))
                links.extend((person.pk, rec) for rec in sorted(chosen))
            insert_rows(Person.recommendations.through, ["person_id", "recommendation_id"], links)
            self.counts["person_links"] += len(links)
