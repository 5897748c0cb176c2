"""Every text the public site shows, in one place: English (the default) and Chinese.

A page gets one locale's table (:func:`texts_for`) and reads keys from it; a key missing
in a translation falls back to English, so a new text never shows a blank. The locale is
``?lang=`` (or the form's ``lang`` field) when it names one we have, else the browser's
``Accept-Language`` (:func:`choose_locale`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

DEFAULT = "en"

EN: dict[str, str] = {
    "site_title": "Household services hotline",
    "nav_services": "Services",
    "nav_order": "Order a service",
    "nav_status": "Follow my order",
    "nav_join": "Companies: join us",
    "nav_volunteer": "Volunteer",
    "other_language": "中文",
    "intro": "We arrange household services, repairs, care and advice in every county we "
    "serve. Call your county's hotline or order online; each request gets a ticket number "
    "you can follow.",
    "counties": "Counties",
    "county_more": "Services, companies and hours",
    "hotline": "Hotline",
    "no_hotline": "Call the centre's main number",
    "hours": "Opening hours",
    "always_open": "Calls are taken at any time",
    "closed_on": "Closed on",
    "time_zone": "Times are local time",
    "services": "Services we arrange",
    "no_services": "No services are listed for this county yet.",
    "companies": "Approved companies",
    "no_companies": "No approved company serves this yet: we arrange it ourselves.",
    "rating": "Rating",
    "rating_scale": "out of 100",
    "satisfaction": "citizens' score {score}/5 from {count} follow-up calls",
    "not_rated": "not rated by citizens yet",
    "order_here": "Order online",
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
    # the order form
    "order_title": "Order a service",
    "order_intro": "Tell us what you need. We answer on the phone number you give.",
    "f_category": "Service",
    "f_county": "County",
    "f_address": "Address (where the work is to be done)",
    "f_preferred_date": "Preferred day",
    "f_preferred_slot": "Preferred time",
    "slot_any": "Any time",
    "slot_morning": "Morning (8:00-12:00)",
    "slot_afternoon": "Afternoon (12:00-18:00)",
    "slot_evening": "Evening (18:00-21:00)",
    "f_description": "What do you need?",
    "f_name": "Your name",
    "f_phone": "Your phone number",
    "f_honeypot": "Leave this field empty",
    "choose": "Choose…",
    "optional": "optional",
    "send_order": "Send the order",
    "order_done_title": "Thank you: your order is taken",
    "order_done_number": "Your ticket number",
    "order_done_keep": "Keep this number. With your phone number it shows how your order is going.",
    "order_done_link": "Follow your order",
    # status
    "status_title": "Follow my order",
    "status_intro": "Give the ticket number and the phone number of the order.",
    "f_ticket": "Ticket number",
    "show_status": "Show",
    "status_not_found": "No order matches this ticket number and phone number. Check both "
    "and try again.",
    "status_of": "Order {number}",
    "s_status": "Status",
    "s_category": "Service",
    "s_created": "Ordered",
    "s_updated": "Last change",
    "s_company": "Company",
    "s_history": "What happened",
    "st_new": "Received",
    "st_answered": "Answered",
    "st_dispatched": "Offered to a company",
    "st_declined": "Being offered to another company",
    "st_accepted": "A company took the job",
    "st_in_service": "Work in progress",
    "st_done": "Work done",
    "st_revisited": "Followed up",
    "st_closed": "Closed",
    "st_reopened": "Reopened",
    "st_cancelled": "Cancelled",
    # company application
    "join_title": "Join our network of service companies",
    "join_intro": "Licensed companies apply here; the centre reviews every application and "
    "answers by phone or email.",
    "f_company_name": "Company name",
    "f_licence_number": "Business licence number",
    "f_company_address": "Company address",
    "f_company_phone": "Company phone",
    "f_email": "Email",
    "f_categories": "Services you offer",
    "f_counties": "Counties you serve",
    "f_contact_name": "Contact person",
    "f_contact_phone": "Contact phone",
    "send_application": "Send the application",
    "join_done_title": "Thank you: your application is received",
    "join_done_text": "The centre reviews it and contacts you. Your reference is {ref}.",
    # volunteers
    "volunteer_title": "Volunteer with us",
    "volunteer_intro": "Help neighbours with errands, company and small repairs. Leave your "
    "details and the centre will call you.",
    "f_skills": "What you can help with",
    "f_availability": "When you are available",
    "f_note": "Anything else",
    "send_volunteer": "Sign up",
    "volunteer_done_title": "Thank you for signing up",
    "volunteer_done_text": "The centre will call you on the number you gave.",
    # errors
    "form_errors": "Please correct the fields marked below.",
    "e_required": "This is required.",
    "e_phone": "This is not a phone number (digits, with an optional +).",
    "e_category": "Choose a service from the list.",
    "e_not_here": "This service is not arranged in the county you chose.",
    "e_county": "Choose a county from the list.",
    "e_date": "Give a day from today on, as YYYY-MM-DD.",
    "e_slot": "Choose a time from the list.",
    "e_text": "This contains characters that cannot be stored.",
    "e_too_long": "This is too long.",
    "e_other": "This value is not accepted: {detail}",
    # why the company rules (cti.companies.rules.REASONS) refused a value: c_<reason>
    "c_invalid": "This value is not accepted.",
    "c_shape": "This value is not in a form we can read.",
    "c_required": "This is required.",
    "c_too_long": "At most {detail} characters.",
    "c_control": "This contains line breaks or control characters.",
    "c_licence": "Letters and digits, with '-', '.', '/' or spaces between them.",
    "c_phone": "This is not a phone number (digits, with an optional +).",
    "c_email": "This is not an email address (name@example.org).",
    "c_url": "This is not an http(s) web address we can use.",
    "c_code": '"{detail}" is not one of the choices.',
    "c_none_chosen": "Choose at least one.",
    "c_too_many": "At most {detail}.",
    "c_day": "Give a day as YYYY-MM-DD.",
    "c_day_order": "The end must not be before the start.",
    "c_cert_category": '"{detail}" is not one of the services you offer.',
    "c_unknown_field": '"{detail}" is not a field of this form.',
    "c_no_category": '"{detail}" is not a service we arrange.',
    "c_no_county": '"{detail}" is not a county we serve.',
    "c_taken": "Another company has this licence number.",
    "refused_title": "We could not take this",
    "refused_back": "Back to the form",
    "r_forged": "The form has expired or was not sent from this site. Load it again and "
    "send it once more.",
    "r_expired": "The form was open too long. Load it again and send it once more.",
    "r_too_fast": "The form was sent too quickly after it was opened. Wait a moment and "
    "send it again.",
    "r_honeypot": "This submission looks automated, so it was not taken.",
    "r_too_large": "The form is too large.",
    "r_oversize": "A field is longer than we accept.",
    "r_rate_ip": "Too many submissions from your connection. Try again in an hour, or call "
    "the hotline.",
    "r_rate_phone": "Too many submissions for this phone number. Try again later, or call "
    "the hotline.",
    "r_rate_ticket": "Too many look-ups of this ticket. Try again in a few minutes.",
    "r_invalid": "The form could not be read. Load it again and send it once more.",
    "not_found_title": "Not found",
    "not_found_text": "There is no such page.",
}

ZH: dict[str, str] = {
    "site_title": "家政服务热线",
    "nav_services": "服务",
    "nav_order": "在线下单",
    "nav_status": "查询订单",
    "nav_join": "企业加盟",
    "nav_volunteer": "志愿者",
    "other_language": "English",
    "intro": "我们在各区县安排家政、维修、照护和咨询服务。请拨打所在区县的热线或在线下单；"
    "每个请求都有一个可查询的工单号。",
    "counties": "区县",
    "county_more": "服务、企业和服务时间",
    "hotline": "热线",
    "no_hotline": "请拨打中心总机",
    "hours": "服务时间",
    "always_open": "全天接听",
    "closed_on": "休息日",
    "time_zone": "均为当地时间",
    "services": "我们安排的服务",
    "no_services": "本区县暂未列出服务。",
    "companies": "认证企业",
    "no_companies": "暂无认证企业提供此服务：由中心直接安排。",
    "rating": "评分",
    "rating_scale": "（满分100）",
    "satisfaction": "市民回访评分 {score}/5（{count} 次回访）",
    "not_rated": "暂无市民评分",
    "order_here": "在线下单",
    "mon": "星期一",
    "tue": "星期二",
    "wed": "星期三",
    "thu": "星期四",
    "fri": "星期五",
    "sat": "星期六",
    "sun": "星期日",
    "order_title": "在线下单",
    "order_intro": "请告诉我们您的需求。我们会通过您留下的电话联系您。",
    "f_category": "服务",
    "f_county": "区县",
    "f_address": "地址（服务地点）",
    "f_preferred_date": "希望日期",
    "f_preferred_slot": "希望时间",
    "slot_any": "任何时间",
    "slot_morning": "上午（8:00-12:00）",
    "slot_afternoon": "下午（12:00-18:00）",
    "slot_evening": "晚上（18:00-21:00）",
    "f_description": "您需要什么？",
    "f_name": "您的姓名",
    "f_phone": "您的电话",
    "f_honeypot": "请勿填写此栏",
    "choose": "请选择…",
    "optional": "选填",
    "send_order": "提交订单",
    "order_done_title": "谢谢：您的订单已受理",
    "order_done_number": "您的工单号",
    "order_done_keep": "请保存此号码。凭工单号和电话号码可以查询订单进度。",
    "order_done_link": "查询订单",
    "status_title": "查询订单",
    "status_intro": "请输入工单号和下单时的电话号码。",
    "f_ticket": "工单号",
    "show_status": "查询",
    "status_not_found": "没有与此工单号和电话号码相符的订单。请核对后重试。",
    "status_of": "订单 {number}",
    "s_status": "状态",
    "s_category": "服务",
    "s_created": "下单时间",
    "s_updated": "最近更新",
    "s_company": "服务企业",
    "s_history": "处理记录",
    "st_new": "已受理",
    "st_answered": "已答复",
    "st_dispatched": "已派给企业",
    "st_declined": "正在改派其他企业",
    "st_accepted": "企业已接单",
    "st_in_service": "服务中",
    "st_done": "服务完成",
    "st_revisited": "已回访",
    "st_closed": "已结束",
    "st_reopened": "已重新处理",
    "st_cancelled": "已取消",
    "join_title": "加入我们的服务企业网络",
    "join_intro": "持证企业可在此申请；中心审核每份申请并通过电话或邮件答复。",
    "f_company_name": "企业名称",
    "f_licence_number": "营业执照号",
    "f_company_address": "企业地址",
    "f_company_phone": "企业电话",
    "f_email": "电子邮件",
    "f_categories": "提供的服务",
    "f_counties": "服务的区县",
    "f_contact_name": "联系人",
    "f_contact_phone": "联系电话",
    "send_application": "提交申请",
    "join_done_title": "谢谢：申请已收到",
    "join_done_text": "中心审核后会与您联系。您的申请编号是 {ref}。",
    "volunteer_title": "成为志愿者",
    "volunteer_intro": "帮助邻里跑腿、陪伴和小修小补。留下您的信息，中心会给您打电话。",
    "f_skills": "您能帮什么忙",
    "f_availability": "您有空的时间",
    "f_note": "其他",
    "send_volunteer": "报名",
    "volunteer_done_title": "感谢您的报名",
    "volunteer_done_text": "中心会拨打您留下的电话与您联系。",
    "form_errors": "请更正下面标出的内容。",
    "e_required": "此项必填。",
    "e_phone": "这不是电话号码（数字，可加 +）。",
    "e_category": "请从列表中选择服务。",
    "e_not_here": "所选区县不安排此项服务。",
    "e_county": "请从列表中选择区县。",
    "e_date": "请填写今天或以后的日期，格式 YYYY-MM-DD。",
    "e_slot": "请从列表中选择时间。",
    "e_text": "含有无法保存的字符。",
    "e_too_long": "内容太长。",
    "e_other": "此项不被接受：{detail}",
    "c_invalid": "此项不被接受。",
    "c_shape": "此项的格式无法读取。",
    "c_required": "此项必填。",
    "c_too_long": "最多 {detail} 个字符。",
    "c_control": "含有换行或控制字符。",
    "c_licence": "请填写字母和数字，中间可用 '-'、'.'、'/' 或空格。",
    "c_phone": "这不是电话号码（数字，可加 +）。",
    "c_email": "这不是电子邮件地址（name@example.org）。",
    "c_url": "这不是可用的 http(s) 网址。",
    "c_code": "“{detail}”不是可选的项目。",
    "c_none_chosen": "请至少选择一项。",
    "c_too_many": "最多 {detail} 项。",
    "c_day": "请按 YYYY-MM-DD 格式填写日期。",
    "c_day_order": "结束日期不能早于开始日期。",
    "c_cert_category": "“{detail}”不是您提供的服务。",
    "c_unknown_field": "“{detail}”不是本表单的内容。",
    "c_no_category": "“{detail}”不是我们安排的服务。",
    "c_no_county": "“{detail}”不是我们服务的区县。",
    "c_taken": "该营业执照号已被其他企业使用。",
    "refused_title": "无法受理",
    "refused_back": "返回表单",
    "r_forged": "表单已过期或不是从本网站提交的。请重新打开表单再提交。",
    "r_expired": "表单打开时间过长。请重新打开表单再提交。",
    "r_too_fast": "表单打开后提交得太快。请稍等片刻再提交。",
    "r_honeypot": "此次提交疑似自动程序，未被受理。",
    "r_too_large": "表单内容太多。",
    "r_oversize": "有一项内容超过了长度限制。",
    "r_rate_ip": "您的网络提交次数过多。请一小时后再试，或拨打热线。",
    "r_rate_phone": "此电话号码提交次数过多。请稍后再试，或拨打热线。",
    "r_rate_ticket": "此工单查询次数过多。请几分钟后再试。",
    "r_invalid": "无法读取表单。请重新打开表单再提交。",
    "not_found_title": "未找到",
    "not_found_text": "没有这个页面。",
}

LOCALES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"en": MappingProxyType(EN), "zh": MappingProxyType({**EN, **ZH})}
)
#: What ``<html lang>`` says for each locale.
HTML_LANG = MappingProxyType({"en": "en", "zh": "zh-CN"})


def texts_for(locale: str) -> Mapping[str, str]:
    return LOCALES.get(locale, LOCALES[DEFAULT])


def rule_error(reason: str) -> str:
    """The key of the text saying why a company rule refused a value
    (``cti.companies.rules.CompanyError.reason``); a reason without one gets the general
    text, never a missing key."""
    key = f"c_{reason}"
    return key if key in EN else "c_invalid"


def _accepted(header: str) -> list[str]:
    """The languages of an ``Accept-Language`` header, most wanted first (q=0 dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if tag and q > 0:
            ranked.append((-q, i, tag.strip().lower()))
    return [tag for _, _, tag in sorted(ranked)]


def choose_locale(asked: str | None, accept_language: str | None) -> str:
    """``asked`` (``?lang=``) when it is a locale we have, else the first of the browser's
    languages we have (``zh-CN``, ``zh-Hant`` -> zh), else English."""
    if asked and asked in LOCALES:
        return asked
    for tag in _accepted(accept_language or ""):
        primary = tag.split("-")[0]
        if primary in LOCALES:
            return primary
    return DEFAULT
