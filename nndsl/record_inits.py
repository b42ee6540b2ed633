"""`__init__` templates for `nndsl.records`, one per field count. Generated: edit
`records.init_templates_source`, then write its text here (tests/test_records.py).
"""

# ruff: noqa
# mypy: ignore-errors
# fmt: off


def make0(_set, _fix, _post):
    def __init__(self):
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make1(_set, _fix, _post, _name0):
    def __init__(self, a0):
        _set(self, _name0, a0)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make2(_set, _fix, _post, _name0, _name1):
    def __init__(self, a0, a1):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make3(_set, _fix, _post, _name0, _name1, _name2):
    def __init__(self, a0, a1, a2):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make4(_set, _fix, _post, _name0, _name1, _name2, _name3):
    def __init__(self, a0, a1, a2, a3):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make5(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4):
    def __init__(self, a0, a1, a2, a3, a4):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make6(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5):
    def __init__(self, a0, a1, a2, a3, a4, a5):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make7(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5, _name6):
    def __init__(self, a0, a1, a2, a3, a4, a5, a6):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        _set(self, _name6, a6)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make8(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5, _name6, _name7):
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        _set(self, _name6, a6)
        _set(self, _name7, a7)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make9(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5, _name6, _name7, _name8):
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        _set(self, _name6, a6)
        _set(self, _name7, a7)
        _set(self, _name8, a8)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make10(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5, _name6, _name7, _name8, _name9):
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        _set(self, _name6, a6)
        _set(self, _name7, a7)
        _set(self, _name8, a8)
        _set(self, _name9, a9)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make11(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5, _name6, _name7, _name8, _name9, _name10):
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        _set(self, _name6, a6)
        _set(self, _name7, a7)
        _set(self, _name8, a8)
        _set(self, _name9, a9)
        _set(self, _name10, a10)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make12(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5, _name6, _name7, _name8, _name9, _name10, _name11):
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        _set(self, _name6, a6)
        _set(self, _name7, a7)
        _set(self, _name8, a8)
        _set(self, _name9, a9)
        _set(self, _name10, a10)
        _set(self, _name11, a11)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make13(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5, _name6, _name7, _name8, _name9, _name10, _name11, _name12):
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        _set(self, _name6, a6)
        _set(self, _name7, a7)
        _set(self, _name8, a8)
        _set(self, _name9, a9)
        _set(self, _name10, a10)
        _set(self, _name11, a11)
        _set(self, _name12, a12)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make14(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5, _name6, _name7, _name8, _name9, _name10, _name11, _name12, _name13):
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        _set(self, _name6, a6)
        _set(self, _name7, a7)
        _set(self, _name8, a8)
        _set(self, _name9, a9)
        _set(self, _name10, a10)
        _set(self, _name11, a11)
        _set(self, _name12, a12)
        _set(self, _name13, a13)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make15(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5, _name6, _name7, _name8, _name9, _name10, _name11, _name12, _name13, _name14):
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        _set(self, _name6, a6)
        _set(self, _name7, a7)
        _set(self, _name8, a8)
        _set(self, _name9, a9)
        _set(self, _name10, a10)
        _set(self, _name11, a11)
        _set(self, _name12, a12)
        _set(self, _name13, a13)
        _set(self, _name14, a14)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make16(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5, _name6, _name7, _name8, _name9, _name10, _name11, _name12, _name13, _name14, _name15):
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        _set(self, _name6, a6)
        _set(self, _name7, a7)
        _set(self, _name8, a8)
        _set(self, _name9, a9)
        _set(self, _name10, a10)
        _set(self, _name11, a11)
        _set(self, _name12, a12)
        _set(self, _name13, a13)
        _set(self, _name14, a14)
        _set(self, _name15, a15)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make17(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5, _name6, _name7, _name8, _name9, _name10, _name11, _name12, _name13, _name14, _name15, _name16):
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        _set(self, _name6, a6)
        _set(self, _name7, a7)
        _set(self, _name8, a8)
        _set(self, _name9, a9)
        _set(self, _name10, a10)
        _set(self, _name11, a11)
        _set(self, _name12, a12)
        _set(self, _name13, a13)
        _set(self, _name14, a14)
        _set(self, _name15, a15)
        _set(self, _name16, a16)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make18(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5, _name6, _name7, _name8, _name9, _name10, _name11, _name12, _name13, _name14, _name15, _name16, _name17):
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        _set(self, _name6, a6)
        _set(self, _name7, a7)
        _set(self, _name8, a8)
        _set(self, _name9, a9)
        _set(self, _name10, a10)
        _set(self, _name11, a11)
        _set(self, _name12, a12)
        _set(self, _name13, a13)
        _set(self, _name14, a14)
        _set(self, _name15, a15)
        _set(self, _name16, a16)
        _set(self, _name17, a17)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make19(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5, _name6, _name7, _name8, _name9, _name10, _name11, _name12, _name13, _name14, _name15, _name16, _name17, _name18):
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        _set(self, _name6, a6)
        _set(self, _name7, a7)
        _set(self, _name8, a8)
        _set(self, _name9, a9)
        _set(self, _name10, a10)
        _set(self, _name11, a11)
        _set(self, _name12, a12)
        _set(self, _name13, a13)
        _set(self, _name14, a14)
        _set(self, _name15, a15)
        _set(self, _name16, a16)
        _set(self, _name17, a17)
        _set(self, _name18, a18)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make20(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5, _name6, _name7, _name8, _name9, _name10, _name11, _name12, _name13, _name14, _name15, _name16, _name17, _name18, _name19):
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        _set(self, _name6, a6)
        _set(self, _name7, a7)
        _set(self, _name8, a8)
        _set(self, _name9, a9)
        _set(self, _name10, a10)
        _set(self, _name11, a11)
        _set(self, _name12, a12)
        _set(self, _name13, a13)
        _set(self, _name14, a14)
        _set(self, _name15, a15)
        _set(self, _name16, a16)
        _set(self, _name17, a17)
        _set(self, _name18, a18)
        _set(self, _name19, a19)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make21(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5, _name6, _name7, _name8, _name9, _name10, _name11, _name12, _name13, _name14, _name15, _name16, _name17, _name18, _name19, _name20):
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        _set(self, _name6, a6)
        _set(self, _name7, a7)
        _set(self, _name8, a8)
        _set(self, _name9, a9)
        _set(self, _name10, a10)
        _set(self, _name11, a11)
        _set(self, _name12, a12)
        _set(self, _name13, a13)
        _set(self, _name14, a14)
        _set(self, _name15, a15)
        _set(self, _name16, a16)
        _set(self, _name17, a17)
        _set(self, _name18, a18)
        _set(self, _name19, a19)
        _set(self, _name20, a20)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make22(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5, _name6, _name7, _name8, _name9, _name10, _name11, _name12, _name13, _name14, _name15, _name16, _name17, _name18, _name19, _name20, _name21):
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        _set(self, _name6, a6)
        _set(self, _name7, a7)
        _set(self, _name8, a8)
        _set(self, _name9, a9)
        _set(self, _name10, a10)
        _set(self, _name11, a11)
        _set(self, _name12, a12)
        _set(self, _name13, a13)
        _set(self, _name14, a14)
        _set(self, _name15, a15)
        _set(self, _name16, a16)
        _set(self, _name17, a17)
        _set(self, _name18, a18)
        _set(self, _name19, a19)
        _set(self, _name20, a20)
        _set(self, _name21, a21)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make23(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5, _name6, _name7, _name8, _name9, _name10, _name11, _name12, _name13, _name14, _name15, _name16, _name17, _name18, _name19, _name20, _name21, _name22):
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        _set(self, _name6, a6)
        _set(self, _name7, a7)
        _set(self, _name8, a8)
        _set(self, _name9, a9)
        _set(self, _name10, a10)
        _set(self, _name11, a11)
        _set(self, _name12, a12)
        _set(self, _name13, a13)
        _set(self, _name14, a14)
        _set(self, _name15, a15)
        _set(self, _name16, a16)
        _set(self, _name17, a17)
        _set(self, _name18, a18)
        _set(self, _name19, a19)
        _set(self, _name20, a20)
        _set(self, _name21, a21)
        _set(self, _name22, a22)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__


def make24(_set, _fix, _post, _name0, _name1, _name2, _name3, _name4, _name5, _name6, _name7, _name8, _name9, _name10, _name11, _name12, _name13, _name14, _name15, _name16, _name17, _name18, _name19, _name20, _name21, _name22, _name23):
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23):
        _set(self, _name0, a0)
        _set(self, _name1, a1)
        _set(self, _name2, a2)
        _set(self, _name3, a3)
        _set(self, _name4, a4)
        _set(self, _name5, a5)
        _set(self, _name6, a6)
        _set(self, _name7, a7)
        _set(self, _name8, a8)
        _set(self, _name9, a9)
        _set(self, _name10, a10)
        _set(self, _name11, a11)
        _set(self, _name12, a12)
        _set(self, _name13, a13)
        _set(self, _name14, a14)
        _set(self, _name15, a15)
        _set(self, _name16, a16)
        _set(self, _name17, a17)
        _set(self, _name18, a18)
        _set(self, _name19, a19)
        _set(self, _name20, a20)
        _set(self, _name21, a21)
        _set(self, _name22, a22)
        _set(self, _name23, a23)
        if _fix is not None:
            _fix(self)
        if _post:
            self.__post_init__()

    return __init__
