"""The sample plant's catalogue: operations, work centers, materials, part types, templates.

Plain tables (most are "|"-separated text, easy to read and to extend) used by
``sample_data.py`` to generate items and their routings.
"""

from __future__ import annotations

import numpy as np


def _table(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("|")] for line in text.strip().splitlines()]


# op code | name | primary work center | alternate | setup min | run min per piece | kind
OPERATIONS = {
    r[0]: (r[1], r[2], r[3], float(r[4]), float(r[5]), r[6])
    for r in _table("""
        CUT    | Material cutting            | SAW01   | SAW02   | 10 | 1.2  | cut
        LTH1   | CNC turning 1st side        | CNC-L01 | CNC-L03 | 35 | 6.0  | turn
        LTH2   | CNC turning 2nd side        | CNC-L02 | CNC-L03 | 25 | 4.5  | turn
        VTL    | Vertical turning            | VTL01   | VTL01   | 60 | 18.0 | turn
        SWS    | Swiss-type turning          | SWS01   | SWS01   | 40 | 3.0  | turn
        MCT    | Machining center milling    | MCT01   | MCT02   | 45 | 7.0  | mill
        DRL    | Drilling                    | DRL01   | MCT02   | 15 | 1.5  | mill
        TAP    | Tapping                     | DRL01   | MCT02   | 10 | 1.2  | mill
        EDM    | Wire EDM                    | EDM01   | EDM01   | 30 | 15.0 | mill
        GRD1   | OD grinding                 | GRD-C01 | GRD-C02 | 30 | 5.0  | grind
        GRD2   | Surface grinding            | GRD-S01 | GRD-S01 | 20 | 3.5  | grind
        LAP    | Lapping                     | LAP01   | LAP02   | 15 | 6.0  | finish
        POL    | Polishing                   | LAP02   | LAP01   | 10 | 4.0  | finish
        FLT    | Flatness check (light band) | QC-LB   | QC-LB   | 5  | 1.5  | insp
        HT     | Heat treatment              | OS-HT   | OS-HT   | 0  | 0    | ext
        CTG    | Hard coating                | OS-CTG  | OS-CTG  | 0  | 0    | ext
        IMP    | Resin impregnation          | OS-IMP  | OS-IMP  | 0  | 0    | ext
        OMC    | Outsourced machining        | OS-MCH  | OS-MCH  | 0  | 0    | ext
        WLD    | Welding                     | WLD01   | WLD01   | 30 | 12.0 | misc
        DBR    | Deburring                   | BNC01   | BNC01   | 5  | 1.5  | misc
        WSH    | Ultrasonic washing          | WSH01   | WSH01   | 5  | 0.8  | misc
        MRK    | Laser marking               | MRK01   | MRK01   | 5  | 0.5  | misc
        BAL    | Dynamic balancing           | BAL01   | BAL01   | 20 | 6.0  | misc
        ASM    | Seal assembly               | ASM01   | ASM02   | 15 | 25.0 | asm
        PRT    | Pressure test               | TST01   | TST01   | 15 | 12.0 | test
        LKT    | Helium leak test            | TST01   | TST01   | 15 | 8.0  | test
        INSP-M | In-process inspection       | QC01    | QC02    | 5  | 2.0  | insp
        INSP-F | Final inspection            | QC01    | QC02    | 5  | 4.0  | insp
        PKG    | Packing                     | PKG01   | PKG01   | 5  | 1.0  | misc
    """)
}
WORK_CENTERS = dict(
    (r[0], r[1])
    for r in _table("""
        SAW01   | Band saw 1
        SAW02   | Band saw 2
        CNC-L01 | CNC lathe 1 (Puma 2600)
        CNC-L02 | CNC lathe 2 (Puma 2600)
        CNC-L03 | CNC lathe 3 (Lynx 220)
        SWS01   | Swiss-type lathe
        VTL01   | Vertical turning lathe
        MCT01   | Machining center 1
        MCT02   | Machining center 2
        DRL01   | Radial drill
        EDM01   | Wire EDM
        GRD-C01 | Cylindrical grinder 1
        GRD-C02 | Cylindrical grinder 2 (large)
        GRD-S01 | Surface grinder
        LAP01   | Lapping machine 1
        LAP02   | Lapping machine 2
        QC-LB   | Optical flat bench
        WLD01   | TIG welding booth
        BNC01   | Deburring bench
        WSH01   | Ultrasonic washer
        MRK01   | Laser marker
        BAL01   | Balancing machine
        ASM01   | Assembly line 1
        ASM02   | Assembly line 2
        TST01   | Test bench
        QC01    | Quality control
        QC02    | Quality control (CMM)
        PKG01   | Packing
        OS-HT   | Vendor: heat treatment
        OS-CTG  | Vendor: coating
        OS-IMP  | Vendor: impregnation
        OS-MCH  | Vendor: machining
    """)
)
OUTSOURCED_DAYS = {"HT": 5, "CTG": 7, "IMP": 4, "OMC": 8}

CLASSES = (
    "STAINLESS",
    "ALLOY STEEL",
    "HARD FACE",
    "CARBON",
    "EXOTIC ALLOY",
    "POLYMER",
    "NON-FERROUS",
)
STS, ALLOY, HARD, CARBON, EXOTIC, POLYMER, NONFERROUS = range(7)
# code | description | material class (index into CLASSES)
MATERIALS = [
    (r[0], r[1], CLASSES.index(r[2]))
    for r in _table("""
        SS304   | STS304 STAINLESS STEEL          | STAINLESS
        SS316   | STS316 STAINLESS STEEL          | STAINLESS
        SS316L  | STS316L LOW CARBON STAINLESS    | STAINLESS
        SCS14   | SCS14 CAST STAINLESS            | STAINLESS
        S45C    | S45C CARBON STEEL               | ALLOY STEEL
        SCM440  | SCM440 CR-MO ALLOY STEEL        | ALLOY STEEL
        SS420J2 | STS420J2 MARTENSITIC STAINLESS  | ALLOY STEEL
        17-4PH  | 17-4PH PH STAINLESS             | ALLOY STEEL
        SIC-RB  | REACTION BONDED SIC             | HARD FACE
        SIC-SSC | SINTERED SIC                    | HARD FACE
        WC-NI   | TUNGSTEN CARBIDE NI BINDER      | HARD FACE
        WC-CO   | TUNGSTEN CARBIDE CO BINDER      | HARD FACE
        CB-RES  | CARBON GRAPHITE RESIN IMPREG    | CARBON
        CB-ANT  | CARBON GRAPHITE ANTIMONY IMPREG | CARBON
        HC276   | HASTELLOY C-276                 | EXOTIC ALLOY
        DPX2205 | DUPLEX STAINLESS 2205           | EXOTIC ALLOY
        ALLOY20 | ALLOY 20                        | EXOTIC ALLOY
        INC718  | INCONEL 718                     | EXOTIC ALLOY
        TI-GR2  | TITANIUM GR.2                   | EXOTIC ALLOY
        PTFE-GF | GLASS FILLED PTFE               | POLYMER
        PEEK    | PEEK                            | POLYMER
        BRZ-C93 | BRONZE C932                     | NON-FERROUS
        AL6061  | ALUMINIUM 6061-T6               | NON-FERROUS
    """)
]
RAW_KINDS = [("BAR", "ROUND BAR"), ("PIPE", "SEAMLESS PIPE"), ("PLT", "PLATE"),
             ("FRG", "FORGING"), ("CST", "CASTING"), ("SNT", "SINTERED BLANK"),
             ("MLD", "MOLDED BLANK"), ("", "")]  # fmt: skip
BAR, PIPE, PLT, FRG, CST, SNT, MLD, NORAW = range(8)
SEAL_GROUPS = ("", "SINGLE", "DOUBLE", "TANDEM", "CARTRIDGE", "SPLIT", "BELLOWS")
# code | part names | weight | seal part | OD median mm, sigma | length/OD range | share per class
PART_TYPES = [
    (r[0], tuple(r[1].split("/")), float(r[2]), r[3] == "Y", *map(float, r[4].split()),
     tuple(map(float, r[5].split())), tuple(map(float, r[6].split())))
    for r in _table("""
        SR | SEAL RING/ROTATING RING/FACE RING  | 12 | Y | 70 .45  | .12 .25  | .05 0 .5 .35 .1 0 0
        SS | SEAT/STATIONARY SEAT/MATING RING   | 10 | Y | 75 .45  | .12 .25  | .1 0 .55 .3 .05 0 0
        SL | SLEEVE/SHAFT SLEEVE                | 12 | Y | 65 .5   | .8 2     | .55 .15 0 0 .3 0 0
        GL | GLAND/GLAND PLATE                  | 10 | Y | 150 .45 | .15 .3   | .6 .2 0 0 .2 0 0
        RT | RETAINER/SPRING HOLDER             | 7  | Y | 80 .45  | .2 .5    | .7 0 0 0 .3 0 0
        CL | COLLAR/DRIVE COLLAR/SET COLLAR     | 6  | Y | 70 .45  | .3 .6    | .6 .4 0 0 0 0 0
        CA | CARTRIDGE SEAL/CARTRIDGE ASSY      | 6  | Y | 90 .5   | .8 1.5   | .8 0 0 0 .2 0 0
        BL | BELLOWS/METAL BELLOWS ASSY         | 4  | Y | 70 .4   | .5 1     | .3 0 0 0 .7 0 0
        PR | PUMPING RING/CIRCULATION RING      | 3  | Y | 90 .4   | .2 .4    | .5 0 0 0 0 0 .5
        SP | WAVE SPRING/SPRING                 | 2  | Y | 60 .4   | .1 .3    | .4 0 0 0 .6 0 0
        SH | SHAFT/PUMP SHAFT                   | 6  | N | 45 .5   | 6 15     | .5 .5 0 0 0 0 0
        BU | BUSHING/THROTTLE BUSHING           | 7  | N | 60 .5   | .5 1.2   | 0 0 0 .3 0 .3 .4
        HS | HOUSING/SEAL HOUSING               | 5  | N | 220 .4  | .4 .9    | .5 .5 0 0 0 0 0
        PL | PLATE/COVER PLATE/FLANGE           | 5  | N | 180 .5  | .05 .15  | .6 .4 0 0 0 0 0
        AD | ADAPTER/ADAPTOR                    | 5  | N | 90 .5   | .3 .8    | .7 0 0 0 0 0 .3
    """)
]  # fmt: skip
PT = {p[0]: i for i, p in enumerate(PART_TYPES)}
# part type | material class ("*": any other) | operation template
TEMPLATES = {
    (r[0], None if r[1] == "*" else CLASSES.index(r[1])): r[2].split()
    for r in _table("""
        SR | HARD FACE | GRD2 GRD1 LAP FLT WSH INSP-F
        SR | CARBON    | LTH1 IMP GRD2 LAP FLT INSP-F
        SR | *         | CUT LTH1 LTH2 CTG GRD2 LAP FLT INSP-F
        SS | HARD FACE | GRD2 GRD1 LAP FLT INSP-F
        SS | CARBON    | LTH1 MCT IMP LAP FLT INSP-F
        SS | *         | CUT LTH1 MCT GRD2 LAP FLT INSP-F
        SL | *         | CUT LTH1 LTH2 DRL TAP GRD1 WSH INSP-F
        GL | *         | CUT LTH1 LTH2 MCT DRL TAP DBR WSH INSP-F
        RT | *         | CUT LTH1 MCT DRL TAP DBR INSP-F
        CL | *         | CUT LTH1 DRL TAP DBR INSP-F
        CA | *         | WSH ASM PRT MRK INSP-F PKG
        BL | *         | WLD LKT HT GRD2 LAP INSP-F
        PR | *         | CUT LTH1 MCT DBR INSP-F
        SP | *         | CUT LTH1 EDM HT INSP-F
        SH | *         | CUT LTH1 LTH2 MCT GRD1 INSP-F
        BU | CARBON    | LTH1 IMP GRD1 INSP-F
        BU | POLYMER   | CUT LTH1 INSP-F
        BU | *         | CUT LTH1 LTH2 GRD1 INSP-F
        HS | *         | LTH1 MCT DRL TAP PRT WSH INSP-F
        PL | *         | CUT MCT DRL GRD2 DBR INSP-F
        AD | *         | CUT LTH1 MCT TAP DBR INSP-F
    """)
}
# routing shape flags (bits of the routing key)
PUMP, FINISH, API, HARDCOAT, ALT, EXTRA_DBR, NO_FINAL, INSP_M, ROUTE2 = (1 << i for i in range(9))
INDUSTRIES = tuple("OIL&GAS REFINERY CHEMICAL POWER WATER PHARMA FOOD PULP&PAPER MARINE".split())
APPLICATIONS = ("PUMP", "COMPRESSOR", "MIXER", "AGITATOR", "BLOWER", "TURBINE")
SHAFT_SIZES = np.array(
    "16 18 20 22 24 25 28 30 32 33 35 38 40 43 45 48 50 53 55 58 60 63 65 68 70 75 80 85 90 95 100 "
    "110 115 120 125 130 140 150 160 170 180 190 200 220 240 260 280 300".split(),
    dtype=float,
)
# TIME_UNIT spellings as the plant's users typed them: (spelling, value per minute, share)
TIME_UNITS = [("MIN", 1.0, 40), ("min", 1.0, 10), ("M", 1.0, 6), ("Min", 1.0, 4),
              ("H", 1 / 60, 8), ("HR", 1 / 60, 7), ("hour", 1 / 60, 4), ("Hrs", 1 / 60, 2),
              ("SEC", 60.0, 8), ("S", 60.0, 5), ("sec", 60.0, 3), (None, 1.0, 3)]  # fmt: skip
TURN_KINDS = ("cut", "turn", "mill", "grind", "finish")
MATERIAL_SPEED = np.array([1.2, 1.0, 1.8, 0.7, 1.6, 0.6, 0.8])  # time factor per material class
EPOCH = np.datetime64("2009-01-01")
END = np.datetime64("2025-06-30")
