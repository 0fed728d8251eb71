"""The dimension values the emulator's audience maps and demographics draw from.

More keys than the 45 an answer keeps (SPEC 2: top 45 only), so the cut is exercised.
"""

from __future__ import annotations


def _items(text: str, sep: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.replace("\n", " ").split(sep) if part.strip())


AGES: tuple[str, ...] = ("13-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
GENDERS: tuple[str, ...] = ("F", "M", "U")
# Legacy audience_gender_age keys look like F.18-24 / M.25-34 / U.45-54 (SPEC 2).
GENDER_AGE: tuple[str, ...] = tuple(f"{g}.{a}" for g in GENDERS for a in AGES)

CITIES: tuple[str, ...] = _items(
    """
London, England; New York, New York; Los Angeles, California; Paris, Ile-de-France;
Berlin, Berlin; Madrid, Comunidad de Madrid; Rome, Lazio; Milan, Lombardy;
Sao Paulo, Sao Paulo (state); Rio de Janeiro, Rio de Janeiro (state);
Mexico City, Distrito Federal; Buenos Aires, Buenos Aires; Toronto, Ontario;
Vancouver, British Columbia; Chicago, Illinois; Houston, Texas; Miami, Florida;
San Francisco, California; Seattle, Washington; Boston, Massachusetts;
Istanbul, Istanbul Province; Moscow, Moscow; Kyiv, Kyiv; Warsaw, Masovian Voivodeship;
Amsterdam, North Holland; Brussels, Brussels; Vienna, Vienna; Zurich, Zurich;
Stockholm, Stockholm County; Oslo, Oslo; Copenhagen, Capital Region of Denmark;
Helsinki, Uusimaa; Dublin, Dublin; Lisbon, Lisbon District; Athens, Attica;
Cairo, Cairo Governorate; Lagos, Lagos State; Nairobi, Nairobi; Johannesburg, Gauteng;
Dubai, Dubai; Riyadh, Riyadh Region; Mumbai, Maharashtra; Delhi, Delhi; Bangalore, Karnataka;
Jakarta, Jakarta; Manila, Metro Manila; Bangkok, Bangkok; Singapore, Singapore;
Kuala Lumpur, Kuala Lumpur; Seoul, Seoul; Tokyo, Tokyo; Osaka, Osaka;
Sydney, New South Wales; Melbourne, Victoria; Auckland, Auckland Region;
Santiago, Santiago Metropolitan Region; Lima, Lima Region; Bogota, Distrito Especial;
Caracas, Capital District; Montreal, Quebec
""",
    ";",
)
COUNTRIES: tuple[str, ...] = _items(
    """
US GB BR IN ID MX DE FR IT ES TR RU UA PL NL BE AT CH SE NO DK FI IE PT GR EG NG KE ZA AE SA
PK BD PH TH SG MY VN KR JP CN TW HK AU NZ CA AR CL PE CO VE EC UY CZ HU RO BG RS HR IL
""",
    " ",
)
LOCALES: tuple[str, ...] = _items(
    """
en_US en_GB pt_BR es_ES es_LA fr_FR de_DE it_IT nl_NL tr_TR ru_RU uk_UA pl_PL sv_SE nb_NO
da_DK fi_FI pt_PT el_GR ar_AR he_IL hi_IN id_ID th_TH vi_VN ko_KR ja_JP zh_CN zh_TW zh_HK
ms_MY tl_PH cs_CZ hu_HU ro_RO bg_BG sr_RS hr_HR sk_SK sl_SI lt_LT lv_LV et_EE fr_CA en_IN
bn_IN ta_IN fa_IR ur_PK sw_KE
""",
    " ",
)
