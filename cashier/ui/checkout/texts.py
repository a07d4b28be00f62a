"""The checkout's words (Chinese, English) and the small text helpers the other
pages share (wallet names, amounts)."""

from __future__ import annotations

from cashier.i18n import define, tr

define({
    "ui.amount_caption": ("收款金额（元）", "Amount to collect (¥)"),
    "ui.method.merged": ("一码付", "Any wallet"),
    "ui.method.wechat": ("微信", "WeChat"),
    "ui.method.alipay": ("支付宝", "Alipay"),
    "ui.method.qq": ("QQ钱包", "QQ Wallet"),
    "ui.method.unionpay": ("云闪付", "UnionPay"),
    "ui.scan_hint": ("输入金额后，可直接扫顾客的付款码", "Enter the amount, then scan the customer's payment code"),
    "ui.no_methods": ("当前商户配置不能生成收款码", "This profile cannot show a payment QR code"),
    "ui.no_micropay": ("“{name}”不能收付款码，未扣款。可以收付款码的商户配置：{names}（在“设置”里选择）",
                       "'{name}' cannot take payment codes; nothing was charged. Profiles that can: {names} (choose one in Settings)"),
    "ui.no_micropay_none": ("“{name}”不能收付款码，未扣款；没有能收付款码的商户配置，请让顾客扫收款码",
                            "'{name}' cannot take payment codes; nothing was charged. No profile can: show a QR code instead"),
    "ui.micropay_via": ("扫到的付款码将由“{name}”收款", "Scanned payment codes are taken by '{name}'"),
    "ui.list_sep": ("、", ", "),
    "ui.clause_sep": ("；", "; "),
    "ui.profile_now": ("商户：{name}", "Profile: {name}"),
    "ui.profile_switch": ("切换商户", "Switch profile"),
    "ui.profile_switched": ("已切换到“{name}”", "Now using '{name}'"),
    "ui.profile_can": ("{name}（{what}）", "{name} ({what})"),
    "ui.not_ready": ("正在连接支付网关，请稍候…", "Connecting to the gateway, one moment…"),
    "ui.no_merchant": ("还没有设置商户账户，暂时不能收款。按 Alt+0 回到欢迎页添加商户（或试用演示模式），"
                       "也可以在 设置（Alt+5）→ 商户配置 里添加",
                       "No merchant account is set up yet, so no payment can be taken. Alt+0 goes back to the "
                       "welcome page to add one (or try demo mode); or add one in Settings (Alt+5) → Merchant profiles"),
    "ui.paid_by": ("由“{name}”收款", "Taken by '{name}'"),
    "ui.no_profile": ("还没有可用的商户配置：请在“设置”里添加", "No usable merchant profile: add one in Settings"),
    "ui.code_waiting_amount": ("已扫到{wallet}付款码，请输入金额后按 Enter 收款", "{wallet} payment code scanned: enter the amount and press Enter"),
    "ui.expiring": ("已到时间，正在最后确认顾客是否付款…", "Time is up: checking once more whether the customer paid…"),
    "ui.stopping": ("正在停止收款", "Stopping the payment"),
    "ui.stopping_detail": ("先查单：顾客没付就撤销，已付就显示收款成功。微信付款码要在扣款 15 秒后才能撤销，请稍候。",
                           "Checking first: not paid, it is reversed; paid, it shows as paid. WeChat allows a reverse only 15 s after the charge: please wait."),
    "ui.scan_broken": ("扫码没有读完整，未扣款，金额已清空：请重新输入金额，再扫一次付款码",
                       "The scan was cut short; nothing was charged and the amount was cleared: type the amount and scan again"),
    "ui.scan_not_now": ("请先处理当前订单，再扫付款码", "Finish the current order before scanning a code"),
    "ui.creating": ("正在生成收款码…", "Creating the payment code…"),
    "ui.charging": ("正在扣款…", "Charging…"),
    "ui.key.decimals": ("最多两位小数", "At most two decimal places"),
    "ui.key.point": ("金额里已经有小数点了", "The amount already has a decimal point"),
    "ui.key.digits": ("金额最多 {n} 位整数", "At most {n} digits before the point"),
    "ui.key.not_amount": ("这里只能输入数字和小数点（按 Esc 清空）", "Only digits and a point go here (Esc clears)"),
    "ui.key.busy": ("正在处理，请稍候", "Working on it, one moment"),
    "ui.paste.refused": ("粘贴的内容不是金额，未使用：{reason}", "The pasted text is not an amount and was not used: {reason}"),
    "ui.paste.empty": ("剪贴板里没有文字", "The clipboard holds no text"),
    "ui.paste.pasted": ("已粘贴金额 ¥{amount}", "Pasted ¥{amount}"),
    "ui.replace_hint": ("输入新金额会替换上一笔金额", "Typing a new amount replaces the last one"),
    "ui.pay_amount": ("应付金额", "To pay"),
    "ui.original": ("原价 ¥{amount}，优惠后实付 ¥{pay}", "Price ¥{amount}, discounted to ¥{pay}"),
    "ui.scan_with.merged": ("请用微信或支付宝扫码付款", "Scan with WeChat or Alipay"),
    "ui.scan_with.wechat": ("请用微信扫码付款", "Scan with WeChat"),
    "ui.scan_with.alipay": ("请用支付宝扫码付款", "Scan with Alipay"),
    "ui.scan_with.qq": ("请用QQ扫码付款", "Scan with QQ"),
    "ui.countdown": ("剩余 {m}:{s:02d}", "{m}:{s:02d} left"),
    "ui.loading_image": ("正在下载二维码图片…", "Downloading the QR image…"),
    "ui.state.sending": ("正在发送…", "Sending…"),
    "ui.state.pending": ("等待顾客扫码付款", "Waiting for the customer to pay"),
    "ui.state.userpaying": ("顾客正在手机上确认（输入密码）", "The customer is confirming on the phone"),
    "ui.state.unknown": ("结果未知，正在查询…", "Outcome unknown, querying…"),
    "ui.state.closing": ("正在关闭订单…", "Closing the order…"),
    "ui.state.reversing": ("正在撤销付款…", "Reversing the payment…"),
    "ui.state.expired": ("已过期，仍在留意迟到的付款", "Expired; still watching for a late payment"),
    "ui.state.cancelled": ("已取消", "Cancelled"),
    "ui.state.needs_check": ("需要人工核对", "Needs checking by a person"),
    "ui.state.paid": ("已付款", "Paid"),
    "ui.state.closed": ("已关闭", "Closed"),
    "ui.state.reversed": ("已撤销", "Reversed"),
    "ui.state.failed": ("失败", "Failed"),
    "ui.check": ("查单", "Check status"),
    "ui.check.unpaid": ("{time} 已查单：顾客还没有付款", "Checked at {time}: not paid yet"),
    "ui.check.done": ("{time} 已查单", "Checked at {time}"),
    "ui.check.queued": ("正在查单：{time} 向支付网关查询，结果会显示在这里",
                        "Checking: the gateway is asked at {time}; the answer shows here"),
    "ui.check.no_answer": ("{time} 查单时支付网关没有回应，会自动再查",
                           "Checked at {time}: the gateway did not answer; it is asked again automatically"),
    "ui.cancel": ("取消", "Cancel"),
    "ui.stop_waiting": ("停止等待", "Stop waiting"),
    "ui.waiting_title": ("请顾客在手机上确认付款", "Ask the customer to confirm on the phone"),
    "ui.stopping_title": ("已停止等待", "Stopped waiting"),
    "ui.reversing_title": ("正在撤销这笔付款", "Undoing this payment"),
    "ui.waiting_detail": ("{wallet}付款码 …{last4}　已等待 {elapsed} 秒；{limit} 秒内未确认将自动撤销",
                          "{wallet} code …{last4}, waited {elapsed} s; reversed automatically if not confirmed within {limit} s"),
    "ui.waiting_code": ("{wallet}付款码 …{last4}", "{wallet} code …{last4}"),
    "ui.reversing_detail": ("正在撤销，不能停止；撤销完成前请勿让顾客重新付款", "Reversing: this cannot be stopped; don't let the customer pay again until it ends"),
    "ui.paid_title": ("收款成功", "Payment received"),
    "ui.paid_detail": ("¥{amount}　{wallet}　{time}", "¥{amount}  {wallet}  {time}"),
    "ui.order_no": ("订单号 {no}", "Order {no}"),
    "ui.next_checkout": ("继续收款", "Next sale"),
    "ui.back_in": ("{s} 秒后自动返回收款", "Back to checkout in {s} s"),
    "ui.back": ("返回", "Back"),
    "ui.retry": ("重新收款", "Try again"),
    "ui.expired_title": ("二维码已过期", "The QR code expired"),
    "ui.expired_next": ("顾客没有付款。按 Enter 重新生成收款码，或输入新金额。", "The customer did not pay. Press Enter for a new code, or type a new amount."),
    "ui.cancelled_title": ("已取消收款", "Payment cancelled"),
    "ui.cancelled_next": ("顾客未被扣款。按 Enter 重新收款，或输入新金额。", "The customer was not charged. Enter to try again, or type a new amount."),
    "ui.watched_next": ("如顾客稍后仍付了款，会显示在“待处理”里，可以退款。",
                        "If the customer still pays later, it shows under 'To check' and can be refunded."),
    "ui.reversed_title": ("付款已撤销", "Payment reversed"),
    "ui.reversed_next": ("顾客未被扣款（如已扣款会原路退回）。请顾客刷新付款码后重新扫码。",
                         "The customer is not charged (any charge goes back). Ask for a fresh code and scan again."),
    "ui.failed_title": ("付款失败", "Payment failed"),
    "ui.failed_next": ("{reason}。请顾客刷新付款码后重新扫码，或换一种方式付款。",
                       "{reason}. Ask the customer to refresh the code and scan again, or pay another way."),
    "ui.needs_check_title": ("需要人工核对", "Needs checking"),
    "ui.needs_check_next": ("{reason}。订单已记入“待处理”，请核对后标记为已核对。",
                            "{reason}. The order is listed under 'To check': look at it and mark it checked."),
    "ui.error_title": ("未能发起收款", "Could not start the payment"),
    "ui.unexpected": ("出了意外（{what}），订单的状态请在“待处理”里查看", "Something unexpected happened ({what}); see 'To check' for the order's state"),
    "ui.in_progress": ("这笔收款仍在处理（{no}），请在“待处理”里查看", "This sale is still being settled ({no}): see 'To check'"),
})

WALLETS = ("merged", "wechat", "alipay", "qq", "unionpay")


def format_yuan(value) -> str:
    from cashier.money import format_yuan as fmt

    return fmt(value)


def wallet_text(wallet: str) -> str:
    return tr("ui.method." + wallet) if wallet in WALLETS else ""


def error_text(exc: BaseException) -> str:
    """One plain sentence for a failure, never a traceback or a repr."""
    from cashier.i18n import UserError

    if isinstance(exc, UserError):
        return exc.message()
    return tr("ui.unexpected", what=type(exc).__name__)

define({"ui.pair": ("{a}{b}", "{a} {b}")})
