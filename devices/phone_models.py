"""The Yealink models we provision, as data: adding a model is adding one entry.

Each figure comes from the model's datasheet or admin guide, cited beside the entry
(`source`). What the code needs of a model: the common file's code, the SIP accounts it
holds, its programmable line keys (pages included: `linekey.1` .. `linekey.<line_keys>`),
the expansion modules it takes and how many, its screen (wallpapers are fitted to it), and,
for a DECT base, how many handsets it takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ExpansionModule:
    """A key module beside a desk phone: `expansion_module.<X>.key.<Y>.*`, Y = 1..keys."""

    name: str
    keys: int  # keys over all its pages
    pages: int
    source: str


@dataclass(frozen=True)
class PhoneModel:
    name: str
    code: int  # the firmware's first number, naming the common file y0000000000XX.cfg
    lines: int  # SIP accounts the model holds
    screen: tuple[int, int] | None = None  # wallpaper size in pixels, where known
    line_keys: int = 0  # programmable line keys, all pages (linekey.N)
    line_key_pages: int = 1
    expansion_modules: tuple[str, ...] = ()  # names in EXPANSION_MODULES
    max_expansion_modules: int = 0
    handsets: int = 0  # a DECT base or manager: the handsets it takes (handset.N.*)
    keys: dict[str, str] = field(default_factory=dict)  # model-specific config keys
    source: str = ""  # where the figures come from

    @property
    def common_file(self) -> str:
        return common_file_name(self.code)

    @property
    def is_dect(self) -> bool:
        return self.handsets > 0

    @property
    def modules(self) -> tuple[ExpansionModule, ...]:
        return tuple(EXPANSION_MODULES[name] for name in self.expansion_modules)

    @property
    def module_keys(self) -> int:
        """Keys on the largest expansion module it takes (0 without any)."""
        return max((module.keys for module in self.modules), default=0)


def common_file_name(code: int) -> str:
    return f"y{code:012d}.cfg"


# Sources cited below (read for facts, nothing copied):
#   "Yealink V86 template": Yealink's own comments in its common-file template, as carried in
#     FusionPBX resources/templates/provision/yealink/t33g/y000000000124.cfg (linekey.X and
#     expansion_module.X.key.Y ranges) and t33g/{$mac}.cfg (account.X ranges); the V83 one is
#     t4x/y000000000066.cfg. FusionPBX <dir>/yXXX.cfg: the common file named in that directory.
#   "Wazo v86/v87": wazo-platform/wazo-provd-plugins plugins/wazo_yealink/v86|v87/common.py
#     (_NB_LINEKEY, _NB_SIP_ACCOUNTS, the expansion module of each model) and entry.py
#     (firmware files); "Wazo COMMON_FILES": v85/v86 entry.py before MODEL_INFO replaced it.
#   "FreePBX map": a public FreePBX Yealink module's yealinkGlobalCfgMap() (common files).
# `code` is the model's own common file as these sources name it. Since V82 Yealink ships one
# firmware for several models, so the firmware's first number can differ (noted as "fw").
# `line_key_pages` is inferred from the key count and the keys on the phone unless a source
# gives it; on touch screens all keys are on one list.
EXPANSION_MODULES: dict[str, ExpansionModule] = {
    module.name: module
    for module in (
        ExpansionModule(
            name="EXP20",
            keys=40,
            pages=2,
            source="Yealink V86 template: T29G/T27P/T27G modules X 1-6, Y 1-20 and 22-40 (key 21 "
            "not configurable) (unconfirmed: that the EXP20 is the module meant; not in Wazo)",
        ),
        ExpansionModule(
            name="EXP39",
            keys=40,
            pages=2,
            source="Yealink V86 template: T48G/T46G modules X 1-6, Y 1-40 (unconfirmed: that the "
            "EXP39 is one of them; not in Wazo)",
        ),
        ExpansionModule(
            name="EXP40",
            keys=40,
            pages=2,
            source="Yealink V86 template: T48G/T48S/T46G/T46S X 1-6, Y 1-40; Wazo v86 EXP40: "
            "40 keys, 6 chained",
        ),
        ExpansionModule(
            name="EXP43",
            keys=60,
            pages=3,
            source="Yealink V86 template: T43U/T46U/T48U X 1-3, Y 1-60; Wazo v86 EXP43: 60 keys, "
            "3 chained",
        ),
        ExpansionModule(
            name="EXP50",
            keys=60,
            pages=3,
            source="Yealink V86 template: T5XW/T54S/T52S X 1-3, Y 1-60; Wazo v86 EXP50: 60 keys, "
            "3 chained",
        ),
    )
}

MODELS: tuple[PhoneModel, ...] = (
    # --- T2x / T19 -------------------------------------------------------------------------
    PhoneModel(
        name="T19P_E2",
        code=53,
        lines=1,
        source="Yealink V86 template: no line keys on T19P_E2; Yealink T2/T4 admin guide (SIP "
        "send line table): 1 line; FusionPBX t19p/y000000000053.cfg; Wazo v84 fw 53",
    ),
    PhoneModel(
        name="T21P_E2",
        code=52,
        lines=2,
        line_keys=2,
        source="Yealink V86 template: linekey 1-2, account 1-2; FusionPBX t21p/y000000000052.cfg",
    ),
    PhoneModel(
        name="T27G",
        code=69,
        lines=6,
        line_keys=21,
        line_key_pages=3,
        expansion_modules=("EXP20", "EXP40"),
        max_expansion_modules=6,
        source="Yealink V86 template: linekey 1-21, account 1-6, modules X 1-6; Wazo v86: 21 "
        "keys, 6 accounts, EXP40; FusionPBX t27g/y000000000069.cfg (unconfirmed: EXP20)",
    ),
    PhoneModel(
        name="T29G",
        code=46,
        lines=16,
        screen=(480, 272),
        line_keys=27,
        line_key_pages=3,
        expansion_modules=("EXP20", "EXP40"),
        max_expansion_modules=6,
        source="Yealink V86 template: linekey 1-27, account 1-16, modules X 1-6; FusionPBX "
        "t29g/y000000000046.cfg (unconfirmed: EXP20/EXP40 by name, screen)",
    ),
    # --- T3x -------------------------------------------------------------------------------
    PhoneModel(
        name="T30",
        code=127,
        lines=1,
        source="Yealink V86 template: no line keys on T30/T30P; Wazo v86: 1 account, 0 keys; "
        "Wazo COMMON_FILES and FreePBX map y000000000127.cfg; fw 124",
    ),
    PhoneModel(
        name="T30P",
        code=127,
        lines=1,
        source="Yealink V86 template: no line keys on T30/T30P; Wazo v86: 1 account, 0 keys; "
        "Wazo COMMON_FILES and FreePBX map y000000000127.cfg; fw 124",
    ),
    PhoneModel(
        name="T31",
        code=123,
        lines=2,
        line_keys=2,
        source="Yealink V86 template: linekey 1-2, account 1-2 (T31/T31P/T31G); Wazo v86 the "
        "same; FreePBX map y000000000123.cfg; fw 124 (unconfirmed: code, one table only)",
    ),
    PhoneModel(
        name="T31P",
        code=123,
        lines=2,
        line_keys=2,
        source="Yealink V86 template: linekey 1-2, account 1-2 (T31/T31P/T31G); Wazo v86 the "
        "same; FreePBX map y000000000123.cfg; fw 124 (unconfirmed: code, one table only)",
    ),
    PhoneModel(
        name="T31G",
        code=123,
        lines=2,
        line_keys=2,
        source="Yealink V86 template: linekey 1-2, account 1-2; Wazo v86 the same; FusionPBX "
        "t31g/y000000000123.cfg; fw 124 (Wazo's User-Agent sample)",
    ),
    PhoneModel(
        name="T31W",
        code=172,
        lines=2,
        line_keys=2,
        source="Wazo v86: 2 line keys; FusionPBX t31w/y000000000172.cfg and FreePBX map; fw 124 "
        "(unconfirmed: 2 accounts as T31G, Wazo lists none)",
    ),
    PhoneModel(
        name="T33P",
        code=124,
        lines=4,
        screen=(320, 240),
        line_keys=12,
        line_key_pages=3,
        source="Yealink V86 template: T33P/T33G linekey 1-12; Wazo v86: 12 keys, 4 accounts; "
        "FreePBX map y000000000124.cfg (unconfirmed: screen, as T33G)",
    ),
    PhoneModel(
        name="T33G",
        code=124,
        lines=4,
        screen=(320, 240),
        line_keys=12,
        line_key_pages=3,
        source="Yealink V86 template: T33P/T33G linekey 1-12; Wazo v86: 12 keys, 4 accounts; "
        "FusionPBX t33g/y000000000124.cfg (unconfirmed: screen)",
    ),
    PhoneModel(
        name="T34W",
        code=171,
        lines=4,
        screen=(320, 240),
        line_keys=12,
        line_key_pages=3,
        source="Wazo v86: 12 keys, 4 accounts; FusionPBX t34w/y000000000171.cfg, Wazo "
        "COMMON_FILES; fw 124 (unconfirmed: keys, Yealink's template omits T34W; screen)",
    ),
    # --- T4x -------------------------------------------------------------------------------
    PhoneModel(
        name="T40P",
        code=54,
        lines=3,
        line_keys=3,
        source="Yealink V86 template: linekey 1-3, account 1-3; FusionPBX t40p/y000000000054.cfg",
    ),
    PhoneModel(
        name="T41P",
        code=36,
        lines=6,
        line_keys=15,
        line_key_pages=3,
        source="Yealink V86 template: linekey 1-15, account 1-6; FusionPBX t41p/y000000000036.cfg",
    ),
    PhoneModel(
        name="T41S",
        code=68,
        lines=6,
        line_keys=15,
        line_key_pages=3,
        source="Yealink V86 template: linekey 1-15, account 1-6; Wazo v86 the same; Wazo "
        "COMMON_FILES y000000000068.cfg; fw 66",
    ),
    PhoneModel(
        name="T41U",
        code=108,
        lines=6,
        line_keys=15,
        line_key_pages=3,
        source="Yealink V86 template: linekey 1-15, account 1-6; Wazo v86 the same, fw 108 "
        "(unconfirmed: code; no source names a T41U common file, 108 is its firmware's)",
    ),
    PhoneModel(
        name="T42G",
        code=29,
        lines=12,
        line_keys=15,
        line_key_pages=3,
        source="Yealink V86 template: linekey 1-15, account 1-12; FusionPBX t42g/y000000000029.cfg",
    ),
    PhoneModel(
        name="T42S",
        code=67,
        lines=12,
        line_keys=15,
        line_key_pages=3,
        source="Yealink V86 template: linekey 1-15, account 1-12; Wazo v86 the same; Wazo "
        "COMMON_FILES y000000000067.cfg; fw 66",
    ),
    PhoneModel(
        name="T42U",
        code=116,
        lines=12,
        line_keys=15,
        line_key_pages=3,
        source="Yealink V86 template: linekey 1-15; Wazo v86: 15 keys, 12 accounts; FusionPBX "
        "t42u/y000000000116.cfg; fw 108 (unconfirmed: lines, one V86 header says 6)",
    ),
    PhoneModel(
        name="T43U",
        code=107,
        lines=12,
        line_keys=21,
        line_key_pages=3,
        expansion_modules=("EXP43",),
        max_expansion_modules=3,
        source="Yealink V86 template: linekey 1-21, account 1-12, modules X 1-3 Y 1-60; "
        "FusionPBX t43u/y000000000107.cfg; fw 108 (unconfirmed: keys, Wazo v86 says 15)",
    ),
    PhoneModel(
        name="T44U",
        code=173,
        lines=12,
        line_keys=24,
        line_key_pages=3,
        source="Wazo v86: 24 keys, 12 accounts, no module; FreePBX map y000000000173.cfg; "
        "fw 108 (unconfirmed: keys and code, one source each)",
    ),
    PhoneModel(
        name="T44W",
        code=174,
        lines=12,
        line_keys=24,
        line_key_pages=3,
        source="Wazo v86: 24 keys, 12 accounts, no module; FusionPBX t44w/y000000000174.cfg; "
        "fw 108 (unconfirmed: keys, one source)",
    ),
    PhoneModel(
        name="T46G",
        code=28,
        lines=16,
        screen=(480, 272),
        line_keys=27,
        line_key_pages=3,
        expansion_modules=("EXP39", "EXP40"),
        max_expansion_modules=6,
        source="Yealink V86 template: linekey 1-27, account 1-16, modules X 1-6 Y 1-40; "
        "FusionPBX t46g/y000000000028.cfg (unconfirmed: EXP39, screen)",
    ),
    PhoneModel(
        name="T46S",
        code=66,
        lines=16,
        screen=(480, 272),
        line_keys=27,
        line_key_pages=3,
        expansion_modules=("EXP40",),
        max_expansion_modules=6,
        source="Yealink V86 template: linekey 1-27, account 1-16, modules X 1-6 Y 1-40; Wazo "
        "v86: 27 keys, EXP40; FusionPBX t46s/y000000000066.cfg (unconfirmed: screen)",
    ),
    PhoneModel(
        name="T46U",
        code=108,
        lines=16,
        screen=(480, 272),
        line_keys=27,
        line_key_pages=3,
        expansion_modules=("EXP43",),
        max_expansion_modules=3,
        source="Yealink V86 template: linekey 1-27, account 1-16, modules X 1-3 Y 1-60; Wazo "
        "v86: 27 keys, EXP43; FusionPBX t46u/y000000000108.cfg (unconfirmed: screen)",
    ),
    PhoneModel(
        name="T48G",
        code=35,
        lines=16,
        screen=(800, 480),
        line_keys=29,
        expansion_modules=("EXP39", "EXP40"),
        max_expansion_modules=6,
        source="Yealink V86 template: linekey 1-29, account 1-16, modules X 1-6 Y 1-40; "
        "FusionPBX t48g/y000000000035.cfg (unconfirmed: EXP39, screen)",
    ),
    PhoneModel(
        name="T48S",
        code=65,
        lines=16,
        screen=(800, 480),
        line_keys=29,
        expansion_modules=("EXP40",),
        max_expansion_modules=6,
        source="Yealink V86 template: linekey 1-29, account 1-16, modules X 1-6 Y 1-40; Wazo "
        "v86: 29 keys, EXP40; Wazo COMMON_FILES y000000000065.cfg; fw 66 (unconfirmed: screen)",
    ),
    PhoneModel(
        name="T48U",
        code=109,
        lines=16,
        screen=(800, 480),
        line_keys=29,
        expansion_modules=("EXP43",),
        max_expansion_modules=3,
        source="Yealink V86 template: linekey 1-29, account 1-16, modules X 1-3 Y 1-60; Wazo "
        "v86: 29 keys, EXP43; FusionPBX t48u/y000000000109.cfg; fw 108 (unconfirmed: screen)",
    ),
    # --- T5x -------------------------------------------------------------------------------
    PhoneModel(
        name="T52S",
        code=74,
        lines=12,
        screen=(320, 240),
        line_keys=21,
        line_key_pages=3,
        expansion_modules=("EXP50",),
        max_expansion_modules=3,
        source="Yealink V86 template: linekey 1-21, account 1-12, modules X 1-3 Y 1-60; "
        "FusionPBX t52s/y000000000074.cfg; fw 70 (unconfirmed: pages, screen)",
    ),
    PhoneModel(
        name="T53",
        code=95,
        lines=12,
        line_keys=27,
        line_key_pages=4,
        expansion_modules=("EXP50",),
        max_expansion_modules=3,
        source="As T53W (same firmware); FusionPBX t53/y000000000095.cfg; Yealink EDK guide: "
        "ext keys on T53 (unconfirmed: keys and pages, as for T53W)",
    ),
    PhoneModel(
        name="T53W",
        code=95,
        lines=12,
        line_keys=27,
        line_key_pages=4,
        expansion_modules=("EXP50",),
        max_expansion_modules=3,
        source="Yealink V86 template: T53W linekey 1-27, modules X 1-3 Y 1-60; Wazo v86: 12 "
        "accounts; FusionPBX t53w/y000000000095.cfg; fw 96 (unconfirmed: Wazo says 21 keys)",
    ),
    PhoneModel(
        name="T54S",
        code=70,
        lines=16,
        screen=(480, 272),
        line_keys=27,
        line_key_pages=3,
        expansion_modules=("EXP50",),
        max_expansion_modules=3,
        source="Yealink V86 template: linekey 1-27, account 1-16, modules X 1-3 Y 1-60; "
        "FusionPBX t54s/y000000000070.cfg (unconfirmed: screen)",
    ),
    PhoneModel(
        name="T54W",
        code=96,
        lines=16,
        screen=(480, 272),
        line_keys=27,
        line_key_pages=3,
        expansion_modules=("EXP50",),
        max_expansion_modules=3,
        source="Yealink V86 template: linekey 1-27, account 1-16, modules X 1-3 Y 1-60; Wazo "
        "v86 the same; FusionPBX t54w/y000000000096.cfg (unconfirmed: screen)",
    ),
    PhoneModel(
        name="T56A",
        code=56,
        lines=16,
        screen=(1024, 600),
        line_keys=27,
        source="Yealink T58/T56A template (FusionPBX t56a/y000000000056.cfg): linekey 1-27; "
        "t58w template: account 1-16; fw 58 (unconfirmed: no module, Wazo gives every T5 "
        "the EXP50 but Yealink's EDK guide names T58A only; screen)",
    ),
    PhoneModel(
        name="T57W",
        code=97,
        lines=16,
        screen=(800, 480),
        line_keys=29,
        expansion_modules=("EXP50",),
        max_expansion_modules=3,
        source="Yealink V86 template: linekey 1-29, account 1-16, modules X 1-3 Y 1-60; Wazo "
        "v86 the same; FusionPBX t57w/y000000000097.cfg; fw 96 (unconfirmed: screen)",
    ),
    PhoneModel(
        name="T58A",
        code=58,
        lines=16,
        screen=(1024, 600),
        line_keys=27,
        expansion_modules=("EXP50",),
        max_expansion_modules=3,
        source="Yealink T58A template (FusionPBX t58a/y000000000058.cfg): linekey 1-27; Wazo "
        "v86 'T58': 27 keys, 16 accounts, EXP50; EDK guide: ext keys (unconfirmed: screen)",
    ),
    PhoneModel(
        name="T58V",
        code=58,
        lines=16,
        screen=(1024, 600),
        line_keys=27,
        expansion_modules=("EXP50",),
        max_expansion_modules=3,
        source="Yealink T58V template (FusionPBX t56a/y000000000056.cfg): linekey 1-27; Wazo "
        "v86 'T58': 27 keys, 16 accounts, EXP50; FusionPBX t58v/y000000000058.cfg "
        "(unconfirmed: screen)",
    ),
    PhoneModel(
        name="T58W",
        code=150,
        lines=16,
        screen=(1024, 600),
        line_keys=27,
        expansion_modules=("EXP50",),
        max_expansion_modules=3,
        source="Yealink T58V/VP59 template (FusionPBX t58w/y000000000150.cfg): linekey 1-27; "
        "Wazo v86: 27 keys, 16 accounts (unconfirmed: EXP50, Wazo's T5 rule only; screen)",
    ),
    # --- conference phones: no line keys ---------------------------------------------------
    PhoneModel(
        name="CP920",
        code=78,
        lines=1,
        source="Wazo v86: 1 account, 0 line keys; FusionPBX cp920/y000000000078.cfg",
    ),
    PhoneModel(
        name="CP925",
        code=148,
        lines=1,
        source="Wazo v86: 0 line keys, fw 148; FusionPBX cp925/y000000000148.cfg (unconfirmed: "
        "1 account, as CP920)",
    ),
    PhoneModel(
        name="CP960",
        code=73,
        lines=1,
        source="Wazo v85: 1 account, fw 73; t58w template: CP960 account 1-1; FusionPBX "
        "cp960/y000000000073.cfg",
    ),
    PhoneModel(
        name="CP965",
        code=143,
        lines=1,
        source="Wazo v86 fw 143; FusionPBX cp965/y000000000143.cfg (unconfirmed: 1 account, as "
        "CP960)",
    ),
    # --- DECT: bases and managers take handsets; a base under a manager holds neither ------
    PhoneModel(
        name="W60B",
        code=77,
        lines=8,
        handsets=8,
        source="Wazo v85: 8 accounts, fw 77; FusionPBX w60b/y000000000077.cfg: 8 accounts "
        "(unconfirmed: 8 handsets)",
    ),
    PhoneModel(
        name="W70B",
        code=146,
        lines=10,
        handsets=10,
        source="Wazo v87: 10 accounts, fw 146; Yealink DECT account guide (twistedvoip.com copy):"
        " 10 accounts on a W70B; FusionPBX w70b/y000000000146.cfg (unconfirmed: 10 handsets)",
    ),
    PhoneModel(
        name="W75DM",
        code=175,
        lines=20,
        handsets=20,
        source="Wazo v87: W75DM 20 accounts, fw 175 (unconfirmed: 20 handsets, one account "
        "each, and the code from the firmware only)",
    ),
    PhoneModel(
        name="W75B",
        code=175,
        lines=0,
        source="Wazo v87: a W75B base holds 0 accounts (they are on the W75DM), fw 175 "
        "(unconfirmed: code from the firmware only)",
    ),
    PhoneModel(
        name="W80",
        code=103,
        lines=100,
        handsets=100,
        source="The W80DM manager. FusionPBX w80/{$mac}.cfg: account 1-100, handset 1-100; "
        "Yealink DECT account guide: 100 accounts on a W80DM; Wazo COMMON_FILES "
        "y000000000103.cfg, fw 103 (unconfirmed: Wazo v87 says 30 accounts; FusionPBX's w80 "
        "boot names y000000000175.cfg, the W75's)",
    ),
    PhoneModel(
        name="W80B",
        code=103,
        lines=0,
        source="Wazo v87: a W80B base holds 0 accounts (they are on the W80DM); Wazo "
        "COMMON_FILES y000000000103.cfg, fw 103",
    ),
    PhoneModel(
        name="W90DM",
        code=130,
        lines=250,
        handsets=250,
        source="Wazo v87: 250 accounts; Yealink DECT account guide: 250 accounts, one per "
        "handset; Wazo COMMON_FILES y000000000130.cfg, fw 130 (unconfirmed: 250 handsets)",
    ),
    PhoneModel(
        name="W90B",
        code=130,
        lines=0,
        source="Wazo v87: a W90B base holds 0 accounts (they are on the W90DM); Wazo "
        "COMMON_FILES y000000000130.cfg, fw 130",
    ),
)

BY_NAME: dict[str, PhoneModel] = {model.name: model for model in MODELS}
MODEL_CHOICES = [(model.name, model.name) for model in MODELS]


def get_model(name: str) -> PhoneModel | None:
    return BY_NAME.get(name)


def models_for_code(code: int) -> list[PhoneModel]:
    return [model for model in MODELS if model.code == code]
