"""A minimal but valid PowerPoint (.pptx) writer, so the Gamma simulator's PPTX exports really open.

A .pptx is a zip of XML parts (ECMA-376 Open Packaging). The smallest package PowerPoint and
python-pptx accept has: content types, package relationships, the presentation part, one slide
master with one layout, a theme, and the slides. Each slide here gets a coloured background, a
title and a few lines of body text. Written by hand because python-pptx is only a dev dependency.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from xml.sax.saxutils import escape

_NS = (
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
    'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
)
_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument"
# XML 1.0 forbids most control characters; user text may contain them.
_BAD_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_COLOURS = ("2563EB", "10B981", "EA580C", "9333EA", "DB2777", "CA8A04")
EMU_PER_PIXEL = 9525
SLIDE_16X9 = (12_192_000, 6_858_000)


def _text(value: str) -> str:
    return escape(_BAD_XML.sub("", value))


def _rels(*items: tuple[str, str, str]) -> str:
    body = "".join(f'<Relationship Id="{rid}" Type="{kind}" Target="{target}"/>' for rid, kind, target in items)
    return f'{_DECL}<Relationships xmlns="{_PKG_REL}">{body}</Relationships>'


def _empty_tree() -> str:
    return '<p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>'


def _content_types(slides: int) -> str:
    overrides = [
        ("/ppt/presentation.xml", f"{_CT}.presentationml.presentation.main+xml"),
        ("/ppt/slideMasters/slideMaster1.xml", f"{_CT}.presentationml.slideMaster+xml"),
        ("/ppt/slideLayouts/slideLayout1.xml", f"{_CT}.presentationml.slideLayout+xml"),
        ("/ppt/theme/theme1.xml", f"{_CT}.theme+xml"),
        ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
        ("/docProps/app.xml", f"{_CT}.extended-properties+xml"),
    ]
    overrides += [(f"/ppt/slides/slide{n}.xml", f"{_CT}.presentationml.slide+xml") for n in range(1, slides + 1)]
    body = "".join(f'<Override PartName="{part}" ContentType="{kind}"/>' for part, kind in overrides)
    return (
        f'{_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        f'<Default Extension="xml" ContentType="application/xml"/>{body}</Types>'
    )


def _presentation(slides: int, width: int, height: int) -> str:
    ids = "".join(f'<p:sldId id="{255 + n}" r:id="rId{n + 2}"/>' for n in range(1, slides + 1))
    return (
        f"{_DECL}<p:presentation {_NS}>"
        '<p:sldMasterIdLst><p:sldMasterId id="2147483648" r:id="rId1"/></p:sldMasterIdLst>'
        f'<p:sldIdLst>{ids}</p:sldIdLst><p:sldSz cx="{width}" cy="{height}"/>'
        '<p:notesSz cx="6858000" cy="9144000"/></p:presentation>'
    )


def _master() -> str:
    return (
        f"{_DECL}<p:sldMaster {_NS}><p:cSld><p:spTree>{_empty_tree()}</p:spTree></p:cSld>"
        '<p:clrMap bg1="lt1" tx1="dk1" bg2="lt2" tx2="dk2" accent1="accent1" accent2="accent2" '
        'accent3="accent3" accent4="accent4" accent5="accent5" accent6="accent6" hlink="hlink" folHlink="folHlink"/>'
        '<p:sldLayoutIdLst><p:sldLayoutId id="2147483649" r:id="rId1"/></p:sldLayoutIdLst></p:sldMaster>'
    )


def _layout() -> str:
    return (
        f'{_DECL}<p:sldLayout {_NS} type="blank" preserve="1"><p:cSld name="Blank"><p:spTree>{_empty_tree()}'
        "</p:spTree></p:cSld><p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sldLayout>"
    )


def _theme() -> str:
    colours = {"dk2": "1F2937", "lt2": "F3F4F6", "hlink": "2563EB", "folHlink": "7C3AED"}
    colours |= {f"accent{n + 1}": value for n, value in enumerate(_COLOURS)}
    order = ["dk2", "lt2", *(f"accent{n}" for n in range(1, 7)), "hlink", "folHlink"]
    scheme = (
        '<a:dk1><a:sysClr val="windowText" lastClr="000000"/></a:dk1>'
        '<a:lt1><a:sysClr val="window" lastClr="FFFFFF"/></a:lt1>'
        + "".join(f'<a:{name}><a:srgbClr val="{colours[name]}"/></a:{name}>' for name in order)
    )
    font = '<a:latin typeface="Calibri"/><a:ea typeface=""/><a:cs typeface=""/>'
    fill = '<a:solidFill><a:schemeClr val="phClr"/></a:solidFill>'
    line = f'<a:ln w="6350">{fill}</a:ln>'
    return (
        f'{_DECL}<a:theme xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" name="Simulator">'
        f'<a:themeElements><a:clrScheme name="Simulator">{scheme}</a:clrScheme>'
        f'<a:fontScheme name="Simulator"><a:majorFont>{font}</a:majorFont><a:minorFont>{font}</a:minorFont>'
        f'</a:fontScheme><a:fmtScheme name="Simulator"><a:fillStyleLst>{fill * 3}</a:fillStyleLst>'
        f"<a:lnStyleLst>{line * 3}</a:lnStyleLst>"
        f"<a:effectStyleLst>{'<a:effectStyle><a:effectLst/></a:effectStyle>' * 3}</a:effectStyleLst>"
        f"<a:bgFillStyleLst>{fill * 3}</a:bgFillStyleLst></a:fmtScheme></a:themeElements></a:theme>"
    )


def _shape(shape_id: int, name: str, box: tuple[int, int, int, int], paragraphs: Sequence[str], size: int) -> str:
    x, y, cx, cy = box
    bold = ' b="1"' if shape_id == 2 else ""
    runs = "".join(
        f'<a:p><a:r><a:rPr lang="en-US" sz="{size}"{bold}><a:solidFill><a:srgbClr val="FFFFFF"/></a:solidFill>'
        f"</a:rPr><a:t>{_text(text)}</a:t></a:r></a:p>"
        for text in paragraphs or [""]
    )
    return (
        f'<p:sp><p:nvSpPr><p:cNvPr id="{shape_id}" name="{name}"/><p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr>'
        f'<p:spPr><a:xfrm><a:off x="{x}" y="{y}"/><a:ext cx="{cx}" cy="{cy}"/></a:xfrm>'
        '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr>'
        f'<p:txBody><a:bodyPr wrap="square"/><a:lstStyle/>{runs}</p:txBody></p:sp>'
    )


def _slide(index: int, title: str, lines: Sequence[str], width: int, height: int) -> str:
    margin = width // 16
    title_box = (margin, height // 8, width - 2 * margin, height // 5)
    body_box = (margin, height // 8 + height // 5, width - 2 * margin, height // 2)
    colour = _COLOURS[index % len(_COLOURS)]
    return (
        f"{_DECL}<p:sld {_NS}><p:cSld>"
        f'<p:bg><p:bgPr><a:solidFill><a:srgbClr val="{colour}"/></a:solidFill><a:effectLst/></p:bgPr></p:bg>'
        f"<p:spTree>{_empty_tree()}"
        f"{_shape(2, 'Title', title_box, [title], 3600)}{_shape(3, 'Body', body_box, lines, 2000)}"
        "</p:spTree></p:cSld><p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sld>"
    )


def _core(title: str) -> str:
    return (
        f"{_DECL}<cp:coreProperties "
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{_text(title)}</dc:title><dc:creator>genmcp Gamma simulator</dc:creator></cp:coreProperties>"
    )


def _app(slides: int) -> str:
    return (
        f'{_DECL}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        f"<Application>genmcp simulator</Application><Slides>{slides}</Slides></Properties>"
    )


def pptx_bytes(
    slides: Sequence[tuple[str, Sequence[str]]], *, title: str = "", size: tuple[int, int] = SLIDE_16X9
) -> bytes:
    """A .pptx with one slide per `(title, body lines)`; `size` is the slide size in EMU."""
    items = list(slides) or [(title or "Untitled", [])]
    width, height = size
    count = len(items)
    parts: dict[str, str] = {
        "[Content_Types].xml": _content_types(count),
        "_rels/.rels": _rels(
            ("rId1", f"{_REL}/officeDocument", "ppt/presentation.xml"),
            ("rId2", f"{_PKG_REL}/metadata/core-properties", "docProps/core.xml"),
            ("rId3", f"{_REL}/extended-properties", "docProps/app.xml"),
        ),
        "docProps/core.xml": _core(title or items[0][0]),
        "docProps/app.xml": _app(count),
        "ppt/presentation.xml": _presentation(count, width, height),
        "ppt/_rels/presentation.xml.rels": _rels(
            ("rId1", f"{_REL}/slideMaster", "slideMasters/slideMaster1.xml"),
            ("rId2", f"{_REL}/theme", "theme/theme1.xml"),
            *((f"rId{n + 2}", f"{_REL}/slide", f"slides/slide{n}.xml") for n in range(1, count + 1)),
        ),
        "ppt/slideMasters/slideMaster1.xml": _master(),
        "ppt/slideMasters/_rels/slideMaster1.xml.rels": _rels(
            ("rId1", f"{_REL}/slideLayout", "../slideLayouts/slideLayout1.xml"),
            ("rId2", f"{_REL}/theme", "../theme/theme1.xml"),
        ),
        "ppt/slideLayouts/slideLayout1.xml": _layout(),
        "ppt/slideLayouts/_rels/slideLayout1.xml.rels": _rels(
            ("rId1", f"{_REL}/slideMaster", "../slideMasters/slideMaster1.xml")
        ),
        "ppt/theme/theme1.xml": _theme(),
    }
    for n, (slide_title, lines) in enumerate(items, start=1):
        parts[f"ppt/slides/slide{n}.xml"] = _slide(n - 1, slide_title, lines, width, height)
        parts[f"ppt/slides/_rels/slide{n}.xml.rels"] = _rels(
            ("rId1", f"{_REL}/slideLayout", "../slideLayouts/slideLayout1.xml")
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # [Content_Types].xml first, as Office writes it; some readers expect that order.
        for name, xml in parts.items():
            archive.writestr(name, xml.encode("utf-8"))
    return buffer.getvalue()
