"""Tradable instruments of the simulated gateway.

The default universe (:func:`default_registry`) holds 508 instruments:

* 505 common stocks named after the S&P 500 constituents of early 2018, each tagged with one
  of 11 GICS-like sectors (:data:`SECTORS`), its primary exchange (NYSE or NASDAQ), a
  reference price level and its average daily dollar volume of the time.  Share-class
  tickers use IB's spelling with a space (``BRK B``, ``BF B``).  conIds follow the table
  order, starting at 1001.
* ``SPY`` on ARCA (conId 756733, as at IB), sector 0 (no sector: a broad-market fund).
* ``SHOP`` listed **twice on purpose**: in USD with primary exchange NYSE and in CAD on TSE.
  A request for symbol ``SHOP`` without currency or exchange therefore matches two contracts,
  which lets tests exercise IB's error 200 ("ambiguous contract").

``liquidity`` is the dollar volume relative to the median stock (1.0 = median, SPY about 200);
the market model uses it for spreads, displayed sizes and traded volume.  Instruments are
plain data: price paths live in :mod:`livedesk.backend.sim.market.model`, keyed by conId.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Protocol

SECTORS: dict[int, str] = {
    1: "Energy",
    2: "Materials",
    3: "Industrials",
    4: "Consumer Discretionary",
    5: "Consumer Staples",
    6: "Health Care",
    7: "Financials",
    8: "Information Technology",
    9: "Communication Services",
    10: "Utilities",
    11: "Real Estate",
}

EXCHANGE_ALIASES = {"GLOBEX": "CME"}
"""Old exchange names IB still accepts in a contract (CME futures were on GLOBEX)."""
FIRST_STOCK_CON_ID = 1001
SPY_CON_ID = 756733
MEDIAN_DOLLAR_VOLUME = 158.7e6  # median average daily dollar volume of the table below

# Columns, four entries a line: symbol, sector number + primary exchange (N = NYSE,
# Q = NASDAQ, the listing IB reports today: MSFT, PEP, HON, AEP, EXC, XEL, LNT, GT, NWL,
# SRCL and WLTW are NASDAQ), reference price in USD, average daily dollar volume in USD
# millions.
_STOCK_TABLE = """
A      6N   68.06   113  AAL    3Q   51.40   274  AAP    4N  109.93   191  AAPL   8Q  159.54  4337
ABBV   6N  113.62   485  ABC    6N   94.22   148  ABT    6N   58.67   322  ACN    8N  155.15   276
ADBE   8Q  192.34   386  ADI    8Q   85.35   254  ADM    5N   42.19   130  ADP    8Q  113.56   301
ADS    8N  246.75   143  ADSK   8Q  110.54   226  AEE   10N   53.19    84  AEP   10Q   64.45   176
AES   10N   10.48    67  AET    6N  181.49   396  AFL    7N   85.60   144  AGN    6N  170.39   597
AIG    7N   60.47   365  AIV   11N   39.21    47  AIZ    7N   88.49    39  AJG    7N   66.11    56
AKAM   8Q   64.48   128  ALB    2N  106.63   157  ALGN   6Q  234.33   192  ALK    3N   64.23   132
ALL    7N   96.87   175  ALLE   3N   79.96    54  ALXN   6Q  117.15   271  AMAT   8Q   48.69   494
AMD    8Q   11.60   833  AME    3N   74.16    80  AMG    7N  187.87    65  AMGN   6Q  177.47   547
AMP    7N  160.11   144  AMT   11N  140.00   274  AMZN   4Q 1416.78  3857  ANDV   1N  100.62   168
ANSS   8Q  155.03    70  ANTM   6N  238.44   310  AON    7N  140.55   151  AOS    3N   62.72    56
APA    1N   39.55   172  APC    1N   58.72   272  APD    2N  158.21   182  APH    8N   88.28    94
APTV   4N   93.69   190  ARE   11N  118.96    91  ARNC   3N   25.10   103  ATVI   9Q   69.46   384
AVB   11N  158.28   124  AVGO   8Q  237.38   708  AVY    2N  114.78    61  AWK   10N   77.96    74
AXP    7N   93.61   303  AYI    3N  148.07   128  AZO    4N  728.33   293  BA     3N  348.12   873
BAC    7N   31.25  1955  BAX    6N   65.55   164  BBT    7N   53.82   201  BBY    4N   71.26   241
BDX    6N  221.92   274  BEN    7N   39.44   100  BF.B   5N   65.08    49  BHF    7Q   59.00    60
BHGE   1N   28.81   139  BIIB   6Q  326.89   416  BK     7N   55.34   224  BLK    7N  532.26   235
BLL    2N   39.33   100  BMY    6N   62.63   430  BRK.B  7N  200.37   637  BSX    6N   26.32   190
BWA    4N   55.00    81  BXP   11N  115.34    90  C      7N   74.99  1116  CA     8Q   34.00    80
CAG    5N   35.89   130  CAH    6N   65.14   178  CAT    3N  154.34   548  CB     7N  147.52   210
CBG   11N   42.54    74  CBOE   7N  114.56   116  CBS    9N   53.44   256  CCI   11N  108.75   245
CCL    4N   69.12   206  CDNS   8Q   38.57    90  CELG   6Q   95.16   609  CERN   6Q   63.48   148
CF     2N   39.48   135  CFG    7N   44.84   177  CHD    5N   47.37    85  CHK    1N    2.89   159
CHRW   3Q   92.57   121  CHTR   9Q  363.55   584  CI     6N  195.44   243  CINF   7Q   72.63    39
CL     5N   70.17   259  CLX    5N  127.82   113  CMA    7N   93.58   126  CMCSA  9Q   40.15   807
CME    7Q  159.93   182  CMG    4N  272.21   419  CMI    3N  172.74   213  CMS   10N   42.16    89
CNC    6N  104.38   140  CNP   10N   26.36    84  COF    7N   98.12   223  COG    1N   23.37   141
COL    3N  135.40   210  COO    6N  230.47    99  COP    1N   55.63   337  COST   5Q  183.19   529
COTY   5N   17.48    97  CPB    5N   44.80   110  CRM    8N  110.05   405  CSCO   8Q   40.34   719
CSRA   8N   31.35    32  CSX    3Q   52.97   392  CTAS   3Q  156.60    77  CTL    9N   17.06   237
CTSH   8Q   76.52   255  CTXS   8Q   87.60   133  CVS    6N   74.35   550  CVX    1N  115.29   645
CXO    1N  148.10   164  D     10N   73.76   205  DAL    3N   53.85   402  DE     3N  161.44   301
DFS    7N   76.63   169  DG     4N   97.88   220  DGX    6N  100.58   102  DHI    4N   46.29   157
DHR    6N   95.25   228  DIS    9N  104.76   799  DISCA  9Q   23.12   101  DISCK  9Q   21.95    59
DISH   9Q   45.10   149  DLR   11N  104.17   147  DLTR   4Q  106.08   220  DOV    3N   99.92   105
DPS    5N  118.00   134  DRE   11N   25.37    74  DRI    4N   95.08   137  DTE   10N   99.27    99
DUK   10N   74.40   229  DVA    6N   74.66   107  DVN    1N   36.76   181  DWDP   2N   70.60   569
DXC    8N   96.08   164  EA     9Q  123.05   342  EBAY   4Q   42.33   323  ECL    2N  133.12   130
ED    10N   75.26   130  EFX    3N  117.60   170  EIX   10N   59.69   165  EL     5N  134.71   194
EMN    2N   98.98    97  EMR    3N   68.96   209  EOG    1N  105.78   292  EQIX  11Q  426.08   220
EQR   11N   56.86   109  EQT    1N   47.65   193  ES    10N   56.89   100  ESRX   6Q   74.95   269
ESS   11N  217.81    87  ETFC   7Q   51.55   104  ETN    3N   81.62   182  ETR   10N   72.77    97
EVHC   6N   34.82   106  EW     6N  129.70   165  EXC   10Q   36.15   192  EXPD   3Q   62.13    64
EXPE   4Q  129.33   279  EXR   11N   80.42    82  F      4N   10.76   454  FAST   3Q   53.24   131
FB     9Q  180.18  2824  FBHS   3N   63.40    67  FCX    2N   17.86   290  FDX    3N  251.15   331
FE    10N   30.81   149  FFIV   8Q  141.39   102  FIS    8N   96.77   134  FISV   8Q  129.17   109
FITB   7Q   32.34   155  FL     4N   48.01   177  FLIR   8Q   48.40    40  FLR    3N   57.04    69
FLS    3N   41.55    62  FMC    2N   83.97   102  FOX    9Q   35.70    90  FOXA   9Q   36.06   292
FRT   11N  111.34    61  FTI    1N   30.48   105  FTV    3N   71.69    87  GD     3N  214.95   236
GE     3N   15.25  1214  GGP   11N   21.97   146  GILD   6Q   82.76   671  GIS    5N   54.65   217
GLW    8N   29.82   181  GM     4N   42.39   505  GOOG   9Q 1048.58  1427  GOOGL  9Q 1055.41  1603
GPC    4N   99.27    79  GPN    8N  106.32    98  GPS    4N   32.62   147  GRMN   4Q   63.08    60
GS     7N  257.10   761  GT     4Q   33.47    96  GWW    3N  259.89   200  HAL    1N   49.69   409
HAS    4Q  102.22   127  HBAN   7Q   15.64   130  HBI    4N   21.96   113  HCA    6N   98.40   192
HCN   11N   56.55   129  HCP   11N   23.38   105  HD     4N  191.29   745  HES    1N   44.11   191
HIG    7N   55.86   121  HII    3N  234.82    82  HLT    4N   82.02   166  HOG    4N   48.48   122
HOLX   6Q   40.45   115  HON    3Q  151.19   387  HP     1N   67.47   106  HPE    8N   15.56   208
HPQ    8N   21.21   203  HRB    4N   25.74    82  HRL    5N   32.74    81  HRS    8N  152.79    92
HSIC   6Q   72.97   104  HST   11N   19.45   126  HSY    5N   99.04   111  HUM    6N  264.90   309
IBM    8N  153.85   713  ICE    7N   70.72   175  IDXX   6Q  176.83    92  IFF    2N  142.70    58
ILMN   6Q  221.20   175  INCY   6Q   86.34   231  INFO   3Q   45.17   115  INTC   8Q   45.20  1024
INTU   8Q  161.29   206  IP     2N   59.25   125  IPG    9N   21.30   109  IQV    6N   98.21   137
IR     3N   91.19   149  IRM   11N   33.18    51  ISRG   6Q  399.53   309  IT     8N  119.45    74
ITW    3N  163.44   179  IVZ    7N   33.46    92  JBHT   3Q  117.95    96  JCI    3N   37.60   212
JEC    3N   66.01    50  JNJ    6N  131.42   806  JNPR   8N   25.39   144  JPM    7N  112.87  1320
JWN    4N   49.30   123  K      5N   64.21   186  KEY    7N   21.13   199  KHC    5Q   73.55   278
KIM   11N   14.52    90  KLAC   8Q  102.66   129  KMB    5N  112.36   235  KMI    1N   17.29   236
KMX    4N   65.40   148  KO     5N   44.56   513  KORS   4N   66.11   107  KR     5N   28.90   314
KSS    4N   62.92   187  KSU    3N  107.10   117  L      7N   47.86    45  LB     4N   49.11   211
LEG    4N   45.78    48  LEN    4N   60.91   155  LH     6N  169.66   102  LKQ    4Q   40.35    59
LLL    3N  207.69   101  LLY    6N   76.72   307  LMT    3N  345.43   311  LNC    7N   78.51   105
LNT   10Q   37.50    54  LOW    4N   99.92   496  LRCX   8Q  171.63   404  LUK    7N   25.01    42
LUV    3N   57.89   295  LYB    2N  110.27   226  M      4N   24.76   244  MA     8N  168.73   432
MAA   11N   87.93    68  MAC   11N   60.19    97  MAR    4Q  139.64   268  MAS    3N   42.69   100
MAT    4Q   17.00   146  MCD    4N  165.71   532  MCHP   8Q   82.91   207  MCK    6N  152.83   275
MCO    7N  157.98   102  MDLZ   5Q   44.05   352  MDT    6N   81.35   397  MET    7N   46.26   284
MGM    4N   34.68   271  MHK    4N  267.66   123  MKC    5N  102.66    91  MLM    2N  218.85   137
MMC    7N   82.16   146  MMM    3N  233.19   410  MNST   5Q   64.55   117  MO     5N   66.79   481
MON    2N  120.41   256  MOS    2N   25.25   112  MPC    1N   65.09   229  MRK    6N   55.88   611
MRO    1N   16.33   193  MS     7N   54.55   429  MSFT   8Q   89.61  1741  MSI    8N  102.63    92
MTB    7N  184.97   116  MTD    6N  641.96    88  MU     8Q   42.01  1145  MYL    6Q   40.45   232
NAVI   7Q   14.04    43  NBL    1N   27.08   151  NCLH   4N   57.74   105  NDAQ   7Q   77.27    67
NEE   10N  148.09   254  NEM    2N   37.03   184  NFLX   9Q  264.56  1261  NFX    1N   28.53    92
NI    10N   23.09    66  NKE    4N   65.63   541  NLSN   3N   37.56   121  NOC    3N  337.66   210
NOV    1N   34.05   112  NRG   10N   25.36   133  NSC    3N  142.68   211  NTAP   8Q   57.63   135
NTRS   7Q  100.73   104  NUE    2N   62.92   161  NVDA   8Q  228.80  2712  NWL    4Q   29.46   218
NWS    9Q   16.30     7  NWSA   9Q   16.06    28  O     11N   48.92   101  OKE    1N   56.58   175
OMC    9N   75.38   158  ORCL   8N   48.87   675  ORLY   4Q  252.08   293  OXY    1N   69.87   285
PAYX   8Q   64.74   126  PBCT   7Q   19.20    51  PCAR   3Q   68.69   134  PCG   10N   39.48   226
PCLN   4Q 1882.68   840  PDCO   6Q   33.85    53  PEG   10N   47.70   141  PEP    5Q  113.50   419
PFE    6N   34.98   675  PFG    7N   63.92    72  PG     5N   81.84   661  PGR    7N   53.40   148
PH     3N  183.31   168  PHM    4N   29.91   133  PKG    2N  117.13    95  PKI    6N   75.77    42
PLD   11N   60.04   139  PM     5N   98.88   468  PNC    7N  155.00   280  PNR    3N   68.65    65
PNW   10N   75.16    59  PPG    2N  114.13   156  PPL   10N   30.27   139  PRGO   6N   87.52   121
PRU    7N  111.17   204  PSA   11N  185.35   182  PSX    1N   95.61   183  PVH    4N  149.21   108
PWR    3N   34.45    54  PX     2N  150.01   197  PXD    1N  176.20   303  PYPL   8Q   75.59   507
QCOM   8Q   65.04   608  QRVO   8Q   78.09   112  RCL    4N  128.52   171  RE     7N  246.70   102
REG   11N   57.53    77  REGN   6Q  334.61   373  RF     7N   18.96   216  RHI    3N   56.22    50
RHT    8N  128.81   171  RJF    7N   91.05    66  RL     4N  107.70   118  RMD    6N   92.59    64
ROK    3N  188.78   140  ROP    3N  266.19   101  ROST   4Q   77.99   191  RRC    1N   13.12   135
RSG    3N   64.60    75  RTN    3N  204.32   249  SBAC  11Q  166.51   171  SBUX   4Q   54.46   544
SCG   10N   36.66    94  SCHW   7N   52.03   305  SEE    2N   44.36   104  SHW    2N  403.48   211
SIG    4N   50.14   118  SJM    5N  119.83   134  SLB    1N   69.75   532  SLG   11N   92.86    82
SNA    3N  166.63    99  SNI    9N   87.20   128  SNPS   8Q   85.85    87  SO    10N   43.34   253
SPG   11N  154.86   296  SPGI   7N  182.69   165  SRCL   3Q   72.84    60  SRE   10N  104.09   157
STI    7N   69.01   206  STT    7N  103.52   168  STX    8Q   49.55   204  STZ    5N  214.15   283
SWK    3N  159.74   142  SWKS   8Q  101.35   206  SYF    7N   37.50   229  SYK    6N  153.67   167
SYMC   8Q   26.58   199  SYY    5N   58.43   148  T      9N   36.93   994  TAP    5N   76.16   136
TDG    3N  292.10   167  TEL    8N   99.61   125  TGT    4N   73.25   437  TIF    4N  103.08   151
TJX    4N   76.20   315  TMK    7N   83.28    38  TMO    6N  207.55   270  TPR    4N   50.10   137
TRIP   9Q   41.05   129  TROW   7Q  106.52   134  TRV    7N  142.14   198  TSCO   4Q   67.37   142
TSN    5N   73.38   170  TSS    8N   85.37    81  TWX    9N   95.11   466  TXN    8Q  101.98   421
TXT    3N   57.91    73  UA     4N   12.15    70  UAA    4N   13.26    95  UAL    3Q   65.36   312
UDR   11N   33.80    52  UHS    6N  117.12    93  ULTA   4Q  218.06   264  UNH    6N  225.82   609
UNM    7N   50.58    64  UNP    3N  128.96   445  UPS    3N  111.91   328  URI    3N  173.58   191
USB    7N   54.80   323  UTX    3N  131.97   384  V      8N  119.65   776  VAR    6N  116.92    84
VFC    4N   80.47   173  VIAB   9Q   30.51   172  VLO    1N   89.84   277  VMC    2N  128.24   158
VNO   11N   67.30    88  VRSK   3Q   94.69    73  VRSN   8Q  109.11    81  VRTX   6Q  155.67   242
VTR   11N   52.97   116  VZ     9N   51.01   758  WAT    6N  201.98    86  WBA    5Q   71.53   432
WDC    8Q   83.71   356  WEC   10N   59.86   107  WFC    7N   57.54  1043  WHR    4N  171.52   150
WLTW   7Q  157.38   117  WM     3N   81.73   134  WMB    1N   30.00   169  WMT    5N  102.85   735
WRK    2N   64.42    90  WU     8N   19.49    85  WY    11N   34.52   113  WYN    4N  118.72   113
WYNN   4Q  177.32   336  XEC    1N  105.91   117  XEL   10Q   42.46   129  XL     7N   42.00    87
XLNX   8Q   66.97   170  XOM    1N   76.94   912  XRAY   6Q   58.30   105  XRX    8N   31.18    69
XYL    3N   71.79    64  YUM    4N   80.13   155  ZBH    6N  120.78   162  ZION   7Q   54.02   112
ZTS    6N   73.86   169
"""

_LONG_NAMES = {
    "AAPL": "APPLE INC",
    "AMZN": "AMAZON.COM INC",
    "GOOGL": "ALPHABET INC-CL A",
    "JPM": "JPMORGAN CHASE & CO",
    "MSFT": "MICROSOFT CORP",
    "PSX": "PHILLIPS 66",
    "SHOP": "SHOPIFY INC - CLASS A",
    "XOM": "EXXON MOBIL CORP",
}


@dataclass(frozen=True)
class Instrument:
    """One tradable contract, with the fields the gateway reports in contract details."""

    con_id: int
    symbol: str
    sec_type: str = "STK"
    exchange: str = "SMART"
    primary_exchange: str = "NYSE"
    currency: str = "USD"
    long_name: str = ""
    industry: str = ""
    category: str = ""
    sector: int = 0
    min_tick: float = 0.01
    multiplier: float = 1.0
    liquidity: float = 1.0
    local_symbol: str = ""
    trading_class: str = ""
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    contract_month: str = ""
    underlying_con_id: int = 0


class DerivativeSource(Protocol):
    """Lists derivatives on demand (futures, option chains) so they need not be enumerated."""

    def resolve(self, con_id: int) -> Instrument | None:
        """The instrument with this conId, if this source lists it."""
        ...

    def find(self, symbol: str, sec_type: str, fields: dict[str, object]) -> list[Instrument]:
        """Listed instruments of ``sec_type`` on ``symbol`` matching ``fields``."""
        ...


class InstrumentRegistry:
    """Instruments indexed by conId and by symbol.

    Iteration and ``len`` cover the base universe added with :meth:`add`; derivatives come
    from :class:`DerivativeSource` objects (:meth:`add_source`) and are found by conId or by
    an explicit ``sec_type`` of FUT or OPT.
    """

    def __init__(self, instruments: list[Instrument] | None = None) -> None:
        self._by_con_id: dict[int, Instrument] = {}
        self._by_symbol: dict[str, list[Instrument]] = {}
        self._sources: dict[str, DerivativeSource] = {}
        self._derived: dict[int, Instrument] = {}
        for inst in instruments or []:
            self.add(inst)

    def add_source(self, sec_type: str, source: DerivativeSource) -> None:
        """List the instruments of ``sec_type`` through ``source``."""
        self._sources[sec_type] = source

    def add(self, inst: Instrument) -> None:
        """Register ``inst``; its conId must be new."""
        if inst.con_id in self._by_con_id:
            raise ValueError(f"duplicate conId {inst.con_id}")
        self._by_con_id[inst.con_id] = inst
        self._by_symbol.setdefault(inst.symbol.upper(), []).append(inst)

    def by_con_id(self, con_id: int) -> Instrument | None:
        """The instrument with this conId, or None."""
        inst = self._by_con_id.get(con_id)
        if inst is None and self._sources:
            inst = self._derived.get(con_id)
            if inst is None:
                for source in self._sources.values():
                    inst = source.resolve(con_id)
                    if inst is not None:
                        self._derived[con_id] = inst
                        break
        return inst

    def find(
        self,
        symbol: str,
        sec_type: str | None = "STK",
        currency: str | None = None,
        exchange: str | None = None,
        **fields: object,
    ) -> list[Instrument]:
        """All instruments matching a contract request (more than one means ambiguous).

        Empty values (None, "", 0) are wildcards, as in an IB contract.  ``exchange`` matches
        either the routing exchange (SMART) or the primary exchange.  Other keyword arguments
        name :class:`Instrument` fields and must match exactly, except ``last_trade_date``,
        which matches as a prefix (``"202612"`` matches ``"20261218"``).
        """
        exchange = EXCHANGE_ALIASES.get(exchange or "", exchange)
        source = self._sources.get(sec_type or "")
        if source is not None:
            found = source.find(symbol.upper(), sec_type, fields)
            for inst in found:
                self._derived.setdefault(inst.con_id, inst)
            return [
                i
                for i in found
                if (not currency or i.currency == currency)
                and (not exchange or exchange in (i.exchange, i.primary_exchange))
            ]
        matches = []
        for inst in self._by_symbol.get(symbol.upper(), []):
            if sec_type and inst.sec_type != sec_type:
                continue
            if currency and inst.currency != currency:
                continue
            if exchange and exchange not in (inst.exchange, inst.primary_exchange):
                continue
            if all(_field_matches(inst, name, want) for name, want in fields.items()):
                matches.append(inst)
        return matches

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_con_id.values())

    def __len__(self) -> int:
        return len(self._by_con_id)


def _field_matches(inst: Instrument, name: str, want: object) -> bool:
    if name not in Instrument.__dataclass_fields__:
        raise TypeError(f"Instrument has no field {name!r}")
    if want in (None, "", 0, 0.0):
        return True
    have = getattr(inst, name)
    if name == "last_trade_date":
        return str(have).startswith(str(want))
    return have == want


def _parse_table() -> list[tuple[str, int, str, float, float]]:
    """Rows of (symbol, sector, primary exchange, reference price, dollar volume)."""
    tokens = _STOCK_TABLE.split()
    rows = []
    for i in range(0, len(tokens), 4):
        ticker, sector_exchange, price, dollar_volume_m = tokens[i : i + 4]
        exchange = "NASDAQ" if sector_exchange[-1] == "Q" else "NYSE"
        rows.append(
            (
                ticker.replace(".", " "),
                int(sector_exchange[:-1]),
                exchange,
                float(price),
                float(dollar_volume_m) * 1e6,
            )
        )
    return rows


_ROWS = _parse_table()
# Reference price levels keyed by (symbol, currency); the market model anchors paths to them.
_REFERENCE_PRICES: dict[tuple[str, str], float] = {
    (symbol, "USD"): price for symbol, _, _, price, _ in _ROWS
}
_REFERENCE_PRICES.update({("SPY", "USD"): 540.0, ("SHOP", "USD"): 105.0, ("SHOP", "CAD"): 145.0})


def reference_price(inst: Instrument) -> float | None:
    """Typical price level of ``inst`` (None when the table does not know it)."""
    return _REFERENCE_PRICES.get((inst.symbol, inst.currency))


def _stock(con_id: int, symbol: str, sector: int, primary: str, dollar_volume: float) -> Instrument:
    return Instrument(
        con_id=con_id,
        symbol=symbol,
        primary_exchange=primary,
        long_name=_LONG_NAMES.get(symbol, f"{symbol} COMMON STOCK"),
        industry=SECTORS[sector],
        category=SECTORS[sector],
        sector=sector,
        liquidity=round(dollar_volume / MEDIAN_DOLLAR_VOLUME, 4),
        local_symbol=symbol,
        trading_class=symbol if primary != "NASDAQ" else "NMS",
    )


def default_registry() -> InstrumentRegistry:
    """The demo universe: 505 stocks, SPY and the two SHOP listings (see module docstring)."""
    registry = InstrumentRegistry()
    for offset, (symbol, sector, primary, _, dollar_volume) in enumerate(_ROWS):
        registry.add(_stock(FIRST_STOCK_CON_ID + offset, symbol, sector, primary, dollar_volume))
    registry.add(
        Instrument(
            con_id=SPY_CON_ID,
            symbol="SPY",
            primary_exchange="ARCA",
            long_name="SPDR S&P 500 ETF TRUST",
            industry="Funds",
            category="Equity Fund",
            liquidity=200.0,
            local_symbol="SPY",
            trading_class="SPY",
        )
    )
    next_id = FIRST_STOCK_CON_ID + len(_ROWS)
    shop_usd = _stock(next_id, "SHOP", 8, "NYSE", 0.6e9)
    registry.add(shop_usd)
    registry.add(
        replace(shop_usd, con_id=next_id + 1, primary_exchange="TSE", currency="CAD", liquidity=0.8)
    )
    return registry


def matches_fields(inst: Instrument, fields: dict[str, object]) -> bool:
    """Whether ``inst`` matches every field filter (the rules of :meth:`InstrumentRegistry.find`)."""
    return all(_field_matches(inst, name, want) for name, want in fields.items())
