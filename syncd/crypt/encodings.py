"""The three ways rclone turns encrypted name bytes into text (``filename_encoding``).

* ``base32`` (default): RFC 4648 base32 with the *extended hex* alphabet (``0-9a-v``), lower
  case, padding ``=`` stripped. Decoding accepts either case (rclone upper-cases before
  decoding), so it survives hosts that fold case. 1.6 characters per byte.
* ``base64``: RFC 4648 URL-safe base64 (``-`` and ``_``), no padding. Case-sensitive.
  1.33 characters per byte.
* ``base32768``: 15 bits per UTF-16 code unit, all in the Basic Multilingual Plane, with
  the "safe" alphabet of the Go package ``github.com/Max-Sum/base32768`` that rclone uses.
  0.53 characters per byte: the densest when a host counts characters, not bytes.

Each codec raises :class:`ValueError` on text it could not have produced.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Protocol


class NameEncoding(Protocol):
    """How encrypted name bytes become a path segment and back."""

    name: str

    def encode(self, data: bytes) -> str: ...

    def decode(self, text: str) -> bytes: ...

    def encoded_length(self, nbytes: int) -> int:
        """Characters (code points) that ``nbytes`` bytes encode to."""
        ...


class Base32:
    """rclone's ``caseInsensitiveBase32Encoding``."""

    name = "base32"

    def encode(self, data: bytes) -> str:
        return base64.b32hexencode(data).decode("ascii").rstrip("=").lower()

    def decode(self, text: str) -> bytes:
        if text.endswith("="):
            raise ValueError("bad base32 filename encoding (padding present)")
        if not text:
            return b""
        # The base32hex alphabet is int()'s base 32 (0-9, a-v): one C call instead of
        # base64's pure-Python decoder (a no-op pass decodes every name of every listing).
        # int() also takes a sign, spaces and '_', which isalnum() rules out; it refuses w-z.
        if not (text.isascii() and text.isalnum()):
            raise ValueError("character outside the base32 alphabet")
        if len(text) % 8 in (1, 3, 6):
            raise ValueError("bad base32: Incorrect padding")
        try:
            value = int(text, 32)
        except ValueError:
            raise ValueError("character outside the base32 alphabet") from None
        nbytes, spare = divmod(len(text) * 5, 8)
        return (value >> spare).to_bytes(nbytes, "big")

    def encoded_length(self, nbytes: int) -> int:
        return (nbytes * 8 + 4) // 5


class Base64:
    """Go's ``base64.RawURLEncoding``."""

    name = "base64"
    # Python's decoder would accept '+' and '/' (it maps altchars first): check the alphabet.
    _VALID = re.compile(r"[A-Za-z0-9_-]*")

    def encode(self, data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")

    def decode(self, text: str) -> bytes:
        if not self._VALID.fullmatch(text) or len(text) % 4 == 1:
            raise ValueError("not unpadded URL-safe base64")
        try:
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except binascii.Error as exc:
            raise ValueError(f"bad base64: {exc}") from None

    def encoded_length(self, nbytes: int) -> int:
        return (nbytes * 4 + 2) // 3


# The 1028 "safe" characters of Max-Sum/base32768: each stands for a run of 32 code points
# (the low 5 bits carry data). The 4 lowest (after sorting) mark a final 7-bit chunk, the
# other 1024 carry 15 bits.
_BASE32768_ALPHABET = (  # fmt: skip
    "ƀɀɠʀҠԀڀڠݠހ߀ကႠᄀᄠᅀᆀᇠሀሠበዠጠᎠᏀᐠᑀᑠᒀᒠᓀᓠᔀᔠᕀᕠᖀᖠᗀᗠ"
    "ᘀᘠᙀᚠᛀកᠠᡀᣀᦀ᧠ᨠᯀᰀᴀ⇠⋀⍀⍠⎀⎠⏀␀─┠╀╠▀■◀◠☀☠♀♠⚀⚠⛀⛠✀"
    "✠❀➀➠⠀⠠⡀⡠⢀⢠⣀⣠⤀⤠⥀⥠⦠⨠⩀⪀⪠⫠⬀⬠⭀ⰀⲀⲠⳀⴀⵀ⺠⻀㇀㐀㐠㑀㑠㒀㒠"
    "㓀㓠㔀㔠㕀㕠㖀㖠㗀㗠㘀㘠㙀㙠㚀㚠㛀㛠㜀㜠㝀㝠㞀㞠㟀㟠㠀㠠㡀㡠㢀㢠㣀㣠㤀㤠㥀㥠㦀㦠"
    "㧀㧠㨀㨠㩀㩠㪀㪠㫀㫠㬀㬠㭀㭠㮀㮠㯀㯠㰀㰠㱀㱠㲀㲠㳀㳠㴀㴠㵀㵠㶀㶠㷀㷠㸀㸠㹀㹠㺀㺠"
    "㻀㻠㼀㼠㽀㽠㾀㾠㿀㿠䀀䀠䁀䁠䂀䂠䃀䃠䄀䄠䅀䅠䆀䆠䇀䇠䈀䈠䉀䉠䊀䊠䋀䋠䌀䌠䍀䍠䎀䎠"
    "䏀䏠䐀䐠䑀䑠䒀䒠䓀䓠䔀䔠䕀䕠䖀䖠䗀䗠䘀䘠䙀䙠䚀䚠䛀䛠䜀䜠䝀䝠䞀䞠䟀䟠䠀䠠䡀䡠䢀䢠"
    "䣀䣠䤀䤠䥀䥠䦀䦠䧀䧠䨀䨠䩀䩠䪀䪠䫀䫠䬀䬠䭀䭠䮀䮠䯀䯠䰀䰠䱀䱠䲀䲠䳀䳠䴀䴠䵀䵠䶀䷀"
    "䷠一丠乀习亀亠什仠伀传佀你侀侠俀俠倀倠偀偠傀傠僀僠儀儠兀兠冀冠净几刀删剀剠劀加勀"
    "勠匀匠區占厀厠叀叠吀吠呀呠咀咠哀哠唀唠啀啠喀喠嗀嗠嘀嘠噀噠嚀嚠囀因圀圠址坠垀垠埀"
    "埠堀堠塀塠墀墠壀壠夀夠奀奠妀妠姀姠娀娠婀婠媀媠嫀嫠嬀嬠孀孠宀宠寀寠尀尠局屠岀岠峀"
    "峠崀崠嵀嵠嶀嶠巀巠帀帠幀幠庀庠廀廠开张彀彠往徠忀忠怀怠恀恠悀悠惀惠愀愠慀慠憀憠懀"
    "懠戀戠所扠技抠拀拠挀挠捀捠掀掠揀揠搀搠摀摠撀撠擀擠攀攠敀敠斀斠旀无昀映晀晠暀暠曀"
    "曠最朠杀杠枀枠柀柠栀栠桀桠梀梠检棠椀椠楀楠榀榠槀槠樀樠橀橠檀檠櫀櫠欀欠歀歠殀殠毀"
    "毠氀氠汀池沀沠泀泠洀洠浀浠涀涠淀淠渀渠湀湠満溠滀滠漀漠潀潠澀澠激濠瀀瀠灀灠炀炠烀"
    "烠焀焠煀煠熀熠燀燠爀爠牀牠犀犠狀狠猀猠獀獠玀玠珀珠琀琠瑀瑠璀璠瓀瓠甀甠畀畠疀疠痀"
    "痠瘀瘠癀癠皀皠盀盠眀眠着睠瞀瞠矀矠砀砠础硠碀碠磀磠礀礠祀祠禀禠秀秠稀稠穀穠窀窠竀"
    "章笀笠筀筠简箠節篠簀簠籀籠粀粠糀糠紀素絀絠綀綠緀締縀縠繀繠纀纠绀绠缀缠罀罠羀羠翀"
    "翠耀耠聀聠肀肠胀胠脀脠腀腠膀膠臀臠舀舠艀艠芀芠苀苠茀茠荀荠莀莠菀菠萀萠葀葠蒀蒠蓀"
    "蓠蔀蔠蕀蕠薀薠藀藠蘀蘠虀虠蚀蚠蛀蛠蜀蜠蝀蝠螀螠蟀蟠蠀蠠血衠袀袠裀裠褀褠襀襠覀覠觀"
    "觠言訠詀詠誀誠諀諠謀謠譀譠讀讠诀诠谀谠豀豠貀負賀賠贀贠赀赠趀趠跀跠踀踠蹀蹠躀躠軀"
    "軠輀輠轀轠辀辠迀迠退造遀遠邀邠郀郠鄀鄠酀酠醀醠釀釠鈀鈠鉀鉠銀銠鋀鋠錀錠鍀鍠鎀鎠鏀"
    "鏠鐀鐠鑀鑠钀钠铀铠销锠镀镠門閠闀闠阀阠陀陠隀隠雀雠需霠靀靠鞀鞠韀韠頀頠顀顠颀颠飀"
    "飠餀餠饀饠馀馠駀駠騀騠驀驠骀骠髀髠鬀鬠魀魠鮀鮠鯀鯠鰀鰠鱀鱠鲀鲠鳀鳠鴀鴠鵀鵠鶀鶠鷀"
    "鷠鸀鸠鹀鹠麀麠黀黠鼀鼠齀齠龀龠ꀀꀠꁀꁠꂀꂠꃀꃠꄀꄠꅀꅠꆀꆠꇀꇠꈀꈠꉀꉠꊀꊠꋀꋠꌀ"
    "ꌠꍀꍠꎀꎠꏀꏠꐀꐠꑀꑠ꒠ꔀꔠꕀꕠꖀꖠꗀꗠꙀꚠꛀ꜀꜠ꝀꞀꡀ"
)


class Base32768:
    """The ``SafeEncoding`` of ``github.com/Max-Sum/base32768`` (qntm's base32768 scheme)."""

    name = "base32768"

    def __init__(self) -> None:
        points = sorted(ord(c) for c in _BASE32768_ALPHABET)
        if len(points) != 1028 or any(p & 0x1F for p in points) or len(set(points)) != 1028:
            raise AssertionError("base32768 alphabet is corrupt")
        self._seven = points[:4]  # lead characters of a final 7-bit chunk
        self._fifteen = points[4:]  # lead characters of a 15-bit chunk
        self._splitter = points[4]
        self._decode: dict[int, int] = {}
        for i, p in enumerate(self._fifteen):
            self._decode[p >> 5] = i << 5
        for i, p in enumerate(self._seven):
            self._decode[p >> 5] = i << 5

    def encode(self, data: bytes) -> str:
        out: list[str] = []
        left = 0
        leftn = 0
        i = 0
        n = len(data)
        while i < n:
            chunk = (left << (15 - leftn)) & 0xFFFF
            chunk |= data[i] << (7 - leftn)
            if leftn < 7 and n - i > 1:
                chunk |= data[i + 1] >> (1 + leftn)
                left = data[i + 1] & ((1 << (1 + leftn)) - 1)
                leftn += 1
                i += 2
            else:
                chunk |= (1 << (7 - leftn)) - 1  # pad with 1s
                left = 0
                leftn = 0
                i += 1
            chunk &= 0x7FFF
            out.append(chr(self._fifteen[chunk >> 5] | (chunk & 0x1F)))
        if leftn > 0:
            last = ((left << (7 - leftn)) | ((1 << (7 - leftn)) - 1)) & 0x7F
            out.append(chr(self._seven[last >> 5] | (last & 0x1F)))
        return "".join(out)

    def decode(self, text: str) -> bytes:
        out = bytearray()
        left = 0
        leftn = 0
        units = text.replace("\r", "").replace("\n", "").encode("utf-16-be", "surrogatepass")
        for k in range(0, len(units), 2):
            unit = (units[k] << 8) | units[k + 1]
            base = self._decode.get(unit >> 5)
            if base is None:
                raise ValueError(f"illegal base32768 data at input character {k // 2}")
            d = base | (unit & 0x1F)
            if unit < self._splitter:  # a final 7-bit chunk: the rest is ignored, as in Go
                if leftn > 0:
                    out.append(((left << (8 - leftn)) | (d >> (leftn - 1))) & 0xFF)
                return bytes(out)
            if leftn > 0:
                out.append(((left << (8 - leftn)) | (d >> (7 + leftn))) & 0xFF)
                out.append((d >> (leftn - 1)) & 0xFF)
                left = d & ((1 << (leftn - 1)) - 1)
                leftn -= 1
            else:
                out.append(d >> 7)
                left = d & 0x7F
                leftn = 7
        return bytes(out)

    def encoded_length(self, nbytes: int) -> int:
        return (8 * nbytes + 14) // 15


ENCODINGS: dict[str, NameEncoding] = {
    "base32": Base32(),
    "base64": Base64(),
    "base32768": Base32768(),
}
