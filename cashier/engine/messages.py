"""The engine's messages (Chinese, English): errors for the clerk and the reasons
stored with orders and refunds as keys (cashier.engine.decisions.why)."""

from __future__ import annotations

from cashier.i18n import define

define({
    "engine.not_payment_code": ("这不是付款码，请让顾客出示微信或支付宝的付款码", "This is not a payment code: ask for the WeChat or Alipay payment code"),
    "engine.micropay_busy": ("这笔收款还有一笔付款未完成（{out_trade_no}），请等待结果或先停止等待", "A payment for this sale is still unresolved ({out_trade_no}): wait for it or stop waiting first"),
    "engine.sale_paid": ("这笔收款已经付款成功（{out_trade_no}），不能重复收款", "This sale is already paid ({out_trade_no}); not charging again"),
    "engine.unknown_profile": ("没有商户配置“{profile}”", "No merchant profile '{profile}'"),
    "engine.unknown_order": ("没有这笔订单：{out_trade_no}", "No such order: {out_trade_no}"),
    "engine.method_unsupported": ("当前支付网关不支持{method}", "This gateway does not support {method}"),
    "engine.code_wallet_unsupported": ("当前支付网关不支持该钱包的付款码", "This gateway does not take this wallet's payment code"),
    "engine.not_paid": ("订单未支付，不能退款", "The order is not paid: nothing to refund"),
    "engine.refund_manual": ("该网关没有退款接口，请在网关后台或线下手工退款", "This gateway has no refund API: refund by hand in its back office"),
    "engine.refund_too_soon": ("同一笔订单两次退款需间隔 {seconds} 秒，请 {wait} 秒后再试", "Refunds of one order must be {seconds} s apart: try again in {wait} s"),
    "engine.refund_too_many": ("该订单部分退款次数已达上限（{count} 次）", "This order has reached the limit of {count} partial refunds"),
    "engine.refund_too_old": ("订单已超过 {days} 天，不能退款", "The order is older than {days} days and cannot be refunded"),
    "engine.check_too_soon": ("查询太频繁，请 {wait} 秒后再查", "Queried too recently: try again in {wait} s"),
    "engine.gateway_error": ("{message}", "{message}"),
    "reason.expired": ("二维码已过期，顾客未付款", "The QR code expired unpaid"),
    "reason.cancelled": ("收银员已取消", "Cancelled by the clerk"),
    "reason.closed_by_gateway": ("网关显示订单已关闭", "The gateway shows the order closed"),
    "reason.reversed": ("已撤销，顾客未被扣款（如已扣款将原路退回）", "Reversed: the customer is not charged (any charge is returned)"),
    "reason.amount_mismatch": ("网关显示已付 {paid} 元，与应付 {expected} 元不符，请核对", "The gateway shows {paid} paid, not the {expected} due: check it"),
    "reason.cannot_reverse": ("该网关不能撤销付款码支付，请在顾客手机或网关后台核对是否已扣款", "This gateway cannot reverse a scanned payment: check the customer's phone or the gateway back office"),
    "reason.reverse_failed": ("撤销多次失败，请在网关后台核对：{reason}", "Reversing failed repeatedly; check in the gateway back office: {reason}"),
    "reason.unreachable": ("多次无法联系支付网关，请人工核对", "The gateway could not be reached repeatedly; check by hand"),
    "reason.never_created": ("网关没有这笔订单（未创建成功）", "The gateway has no such order (it was never created)"),
    "reason.refund_unknown_no_query": ("退款结果未知，该网关不能查询退款，请在网关后台核对", "Refund outcome unknown and this gateway cannot query refunds: check its back office"),
    "reason.late_payment": ("订单关闭后顾客仍然付款了，请核对（可退款）", "The customer paid after the order was closed: check it (refundable)"),
    "reason.double_payment": ("这笔收款已由订单 {other} 付过，顾客重复付款：请退还其中一笔", "This sale was already paid by {other}: the customer paid twice, refund one"),
    "reason.recovered": ("程序重启后继续处理", "Resumed after a restart"),
    "reason.never_shown": ("下单结果未知，二维码没有显示，订单已放弃（仍在留意付款）",
                           "The create's answer was lost and no QR was shown: given up (still watching for a payment)"),
    "reason.refund_settled_by_order": ("网关未给出这笔退款的状态，但订单已退款 {refunded} 元，与本机记录相符",
                                       "The gateway gave no status for this refund, but the order shows ¥{refunded} refunded, as recorded here"),
    "reason.refund_status_unavailable": ("网关查不到这笔退款（{amount} 元）的状态，订单共退款 {refunded} 元：请在网关后台核对",
                                         "The gateway gives no status for this refund (¥{amount}); the order shows ¥{refunded} refunded: check its back office"),
    "engine.busy_elsewhere": ("另一个收银程序正在处理订单 {number}，请稍后再试", "Another cashier program is working on {number}; try again shortly"),
    "ui.state.cancelled": ("已取消，仍在留意迟到的付款", "Cancelled; still watching quietly for a late payment"),
    "method.merged": ("一码付", "one-code QR"),
    "method.wechat": ("微信", "WeChat"),
    "method.alipay": ("支付宝", "Alipay"),
    "method.qq": ("QQ钱包", "QQ Wallet"),
    "method.micropay": ("付款码", "payment code"),
})
