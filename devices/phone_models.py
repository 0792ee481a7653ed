"""The Yealink models we provision, as data: adding a model is adding one entry."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PhoneModel:
    name: str
    code: int  # the firmware's first number, naming the common file y0000000000XX.cfg
    lines: int  # SIP accounts the model holds (we provision at most 16)
    screen: tuple[int, int] | None = None  # wallpaper size in pixels, where known
    keys: dict[str, str] = field(default_factory=dict)  # model-specific config keys

    @property
    def common_file(self) -> str:
        return common_file_name(self.code)


def common_file_name(code: int) -> str:
    return f"y{code:012d}.cfg"


MODELS: tuple[PhoneModel, ...] = (
    PhoneModel("T19P_E2", 53, 1),
    PhoneModel("T21P_E2", 52, 2),
    PhoneModel("T27G", 69, 6),
    PhoneModel("T29G", 46, 16, (480, 272)),
    PhoneModel("T31G", 123, 2),
    PhoneModel("T31W", 172, 2),
    PhoneModel("T33G", 124, 4, (320, 240)),
    PhoneModel("T34W", 171, 4, (320, 240)),
    PhoneModel("T40P", 54, 3),
    PhoneModel("T41P", 36, 6),
    PhoneModel("T41S", 68, 6),
    PhoneModel("T42G", 29, 12),
    PhoneModel("T42S", 67, 12),
    PhoneModel("T42U", 116, 12),
    PhoneModel("T43U", 107, 12),
    PhoneModel("T46G", 28, 16, (480, 272)),
    PhoneModel("T46S", 66, 16, (480, 272)),
    PhoneModel("T46U", 108, 16, (480, 272)),
    PhoneModel("T48G", 35, 16, (800, 480)),
    PhoneModel("T48S", 65, 16, (800, 480)),
    PhoneModel("T48U", 109, 16, (800, 480)),
    PhoneModel("T52S", 74, 12, (320, 240)),
    PhoneModel("T53", 95, 12),
    PhoneModel("T53W", 95, 12),
    PhoneModel("T54S", 70, 16, (480, 272)),
    PhoneModel("T54W", 96, 16, (480, 272)),
    PhoneModel("T56A", 56, 16, (1024, 600)),
    PhoneModel("T57W", 97, 16, (800, 480)),
    PhoneModel("T58A", 58, 16, (1024, 600)),
    PhoneModel("T58V", 58, 16, (1024, 600)),
    PhoneModel("T58W", 150, 16, (1024, 600)),
    PhoneModel("CP920", 78, 1),
    PhoneModel("W60B", 77, 8),
    PhoneModel("W70B", 146, 10),
    PhoneModel("W80", 175, 16),
)

BY_NAME: dict[str, PhoneModel] = {model.name: model for model in MODELS}
MODEL_CHOICES = [(model.name, model.name) for model in MODELS]


def get_model(name: str) -> PhoneModel | None:
    return BY_NAME.get(name)


def models_for_code(code: int) -> list[PhoneModel]:
    return [model for model in MODELS if model.code == code]
