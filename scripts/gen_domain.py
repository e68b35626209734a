"""Writes domain.yml and bot/data/rules/forms.yml from the tables below.

The domain's responses come in Vietnamese (default) and English (condition: slot language=en);
keeping them as two columns of one table keeps the two languages in step. The form rules are
generated because every form needs the same activation, submit, stop and interruption rules.
A test checks the committed files are up to date: run `make generate` after editing this file.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent

INTENTS = ["greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "request_human", "complain",
           "out_of_scope", "faq", "order_status", "order_change", "order_cancel", "return_request",
           "warranty_claim", "product_info", "inform"]

ENTITIES = ["order_id", "phone", "product", "colour", "quantity", "address", "change_field",
            "return_reason", "box_state", "resolution", "language", "handoff_reason"]

# form name → (trigger intent, submit action, required slots known up front)
FORMS: Dict[str, Tuple[str, str, List[str]]] = {
    "order_status_form": ("order_status", "action_order_status", ["order_id", "phone"]),
    "order_cancel_form": ("order_cancel", "action_ask_cancel", ["order_id", "phone"]),
    "order_change_form": ("order_change", "action_submit_change", ["order_id", "phone", "change_field"]),
    "return_form": ("return_request", "action_submit_return", ["order_id", "phone", "return_reason"]),
    "warranty_form": ("warranty_claim", "action_submit_warranty", ["order_id", "phone", "fault"]),
    "product_form": ("product_info", "action_product_info", ["product"]),
}

# slot → entity it is filled from (None: filled by the form's validation action from free text)
SLOTS: Dict[str, object] = {
    "language": "language", "order_id": "order_id", "phone": "phone", "product": "product",
    "colour": "colour", "quantity": "quantity", "address": "address", "change_field": "change_field",
    "return_reason": "return_reason", "box_state": "box_state", "resolution": "resolution",
    "new_phone": None, "delivery_time": None, "fault": None,
    "verified_order": None, "verified_phone": None, "pending_confirmation": None,
    "invalid_attempts": None, "kb_entry": None, "kb_score": None, "last_reference": None,
    "handoff_reason": "handoff_reason",
}

CUSTOM_ACTIONS = ["action_order_status", "action_ask_cancel", "action_submit_change", "action_submit_return",
                  "action_submit_warranty", "action_product_info", "action_answer_faq", "action_confirm",
                  "action_decline", "action_fallback", "action_handoff", "action_kb_first"] + [f"validate_{f}" for f in FORMS]

# name → (Vietnamese, English). Buttons: list of (title_vi, title_en, payload).
R = Dict[str, Tuple[str, str]]
RESPONSES: R = {
    "utter_greet": ("Dạ, em chào anh/chị! Em là trợ lý của Điện Máy Sao Mai. Em có thể giúp tra cứu, thay đổi hay hủy đơn, đổi trả, bảo hành và tư vấn sản phẩm ạ.",
                    "Hello! I'm the Điện Máy Sao Mai assistant. I can check, change or cancel orders, handle returns and warranty claims, and answer product questions."),
    "utter_goodbye": ("Dạ, em cảm ơn anh/chị đã liên hệ Điện Máy Sao Mai. Chúc anh/chị một ngày tốt lành!",
                      "Thank you for contacting Điện Máy Sao Mai. Have a nice day!"),
    "utter_thank": ("Dạ, không có gì ạ. Anh/chị cần em hỗ trợ thêm gì không ạ?",
                    "You're welcome! Is there anything else I can help with?"),
    "utter_iamabot": ("Dạ, em là trợ lý ảo của Điện Máy Sao Mai. Nếu cần, em có thể chuyển anh/chị tới nhân viên ạ.",
                      "I'm the virtual assistant of Điện Máy Sao Mai. I can connect you with a person if you like."),
    "utter_out_of_scope": ("Dạ, câu này em chưa hỗ trợ được ạ. Em có thể giúp về đơn hàng, đổi trả, bảo hành, sản phẩm và chính sách của shop.",
                           "Sorry, I can't help with that. I can help with orders, returns, warranty, products and shop policies."),
    "utter_sorry": ("Dạ, em rất xin lỗi vì trải nghiệm chưa tốt của anh/chị.", "I'm very sorry about your experience."),
    "utter_handoff_queued": ("Dạ, em đang kết nối anh/chị với nhân viên hỗ trợ (8:00–21:00 hằng ngày). Anh/chị đang ở vị trí số {position} trong hàng chờ, vui lòng chờ giây lát ạ.",
                             "I'm connecting you with a support agent (8:00–21:00 every day). You are number {position} in the queue; please wait a moment."),
    "utter_handoff_assigned": ("Dạ, em đã kết nối anh/chị với nhân viên hỗ trợ, nhân viên sẽ trả lời ngay ạ.",
                               "You're now connected with a support agent, who will reply shortly."),
    "utter_handoff_unavailable": ("Dạ, hiện em chưa kết nối được với nhân viên. Anh/chị vui lòng gọi hotline 1900 6868 (8:00–21:00) giúp em ạ.",
                                  "I can't reach an agent right now. Please call our hotline 1900 6868 (8:00–21:00)."),
    "utter_handoff_closed": ("Dạ, hiện ngoài giờ làm việc của nhân viên (8:00–21:00). Em đã ghi nhận yêu cầu, nhân viên sẽ trả lời anh/chị từ 8:00 sáng mai ạ.",
                             "Our agents are available 8:00–21:00. I've logged your request and an agent will reply from 8:00 tomorrow morning."),
    "utter_fallback_rephrase": ("Dạ, em chưa hiểu rõ ý anh/chị. Anh/chị có thể nói lại theo cách khác giúp em không ạ?",
                                "Sorry, I didn't quite understand. Could you rephrase that?"),
    "utter_ask_order_id": ("Dạ, anh/chị cho em xin mã đơn hàng (ví dụ DH1001) ạ.", "Could you give me your order code (for example DH1001)?"),
    "utter_ask_phone": ("Dạ, anh/chị cho em xin số điện thoại đặt đơn để em xác minh ạ.", "Please give me the phone number used for the order so I can verify it."),
    "utter_ask_change_field": ("Dạ, anh/chị muốn thay đổi gì trong đơn ạ: địa chỉ, số điện thoại, thời gian giao hay sản phẩm (màu, số lượng)?",
                               "What would you like to change: the address, phone number, delivery time, or items (colour, quantity)?"),
    "utter_ask_address": ("Dạ, anh/chị cho em xin địa chỉ giao hàng mới đầy đủ ạ.", "Please give me the full new delivery address."),
    "utter_ask_new_phone": ("Dạ, anh/chị cho em xin số điện thoại nhận hàng mới ạ.", "Please give me the new phone number for the delivery."),
    "utter_ask_delivery_time": ("Dạ, anh/chị muốn nhận hàng vào thời gian nào ạ?", "When would you like the order delivered?"),
    "utter_ask_product": ("Dạ, anh/chị đang hỏi về sản phẩm nào ạ?", "Which product do you mean?"),
    "utter_ask_colour": ("Dạ, anh/chị muốn đổi sang màu nào hoặc số lượng bao nhiêu ạ?", "Which colour or quantity would you like?"),
    "utter_ask_return_reason": ("Dạ, anh/chị muốn đổi trả vì sản phẩm bị lỗi hay vì đổi ý ạ?", "Is the product defective, or have you changed your mind?"),
    "utter_ask_box_state": ("Dạ, sản phẩm còn nguyên hộp, seal, chưa sử dụng, hay đã mở hộp/đã dùng ạ?", "Is the product still sealed and unused, or has it been opened or used?"),
    "utter_ask_resolution": ("Dạ, với lỗi từ nhà sản xuất trong 7 ngày, anh/chị muốn đổi sản phẩm mới (1 đổi 1) hay hoàn tiền 100% ạ?",
                             "For a manufacturer defect within 7 days you can choose a new replacement or a 100% refund. Which do you prefer?"),
    "utter_ask_fault": ("Dạ, anh/chị mô tả giúp em lỗi của sản phẩm ạ.", "Please describe the fault."),
    "utter_invalid_order_id": ("Dạ, mã đơn hàng có dạng DH kèm số, ví dụ DH1001 ạ.", "An order code looks like DH followed by digits, for example DH1001."),
    "utter_invalid_phone": ("Dạ, số điện thoại chưa đúng, anh/chị nhập giúp em số di động 10 số (ví dụ 0901234567) ạ.",
                            "That phone number doesn't look right; please enter a 10-digit mobile number (e.g. 0901234567)."),
    "utter_verification_failed": ("Dạ, mã đơn và số điện thoại chưa khớp với đơn nào bên em ạ. Anh/chị kiểm tra lại giúp em nhé.",
                                  "The order code and phone number don't match any order. Please check them again."),
    "utter_order_status": ("Dạ, đơn {order_id} ({items}, tổng {total}) đang ở trạng thái: {status}. {detail}",
                           "Order {order_id} ({items}, total {total}) is: {status}. {detail}"),
    "utter_cancel_confirm": ("Dạ, đơn {order_id} ({items}) đang {status} nên hủy được miễn phí. Anh/chị xác nhận hủy đơn này ạ?",
                             "Order {order_id} ({items}) is {status}, so it can be cancelled for free. Do you confirm the cancellation?"),
    "utter_cancel_done": ("Dạ, em đã hủy đơn {order_id}. Mã yêu cầu của anh/chị là {reference} ạ.",
                          "Order {order_id} has been cancelled. Your reference is {reference}."),
    "utter_cancel_kept": ("Dạ, em giữ nguyên đơn hàng cho anh/chị ạ.", "OK, I'll keep the order as it is."),
    "utter_not_modifiable_shipping": ("Dạ, đơn {order_id} đang được giao nên không thể thay đổi hay hủy nữa ạ. Anh/chị có thể từ chối nhận hàng khi giao (đơn COD) hoặc đổi trả sau khi nhận theo chính sách đổi trả.",
                                      "Order {order_id} is already out for delivery, so it can't be changed or cancelled. You can refuse a COD parcel at the door or return it afterwards under our return policy."),
    "utter_not_modifiable_status": ("Dạ, đơn {order_id} đang ở trạng thái {status} nên không thể thay đổi hay hủy ạ.",
                                    "Order {order_id} is {status}, so it can't be changed or cancelled."),
    "utter_change_done": ("Dạ, em đã cập nhật đơn {order_id}: {change}. Mã yêu cầu là {reference} ạ.",
                          "Order {order_id} is updated: {change}. Your reference is {reference}."),
    "utter_out_of_stock": ("Dạ, {product} màu {colour} hiện không đủ hàng ạ. Còn hàng: {available}.",
                           "{product} in {colour} is not available in that quantity. In stock: {available}."),
    "utter_invalid_change": ("Dạ, em chưa thực hiện được thay đổi này: {reason}", "I couldn't make that change: {reason}"),
    "utter_return_defect_7_days": ("Dạ, đơn {order_id} đã giao {days} ngày, lỗi nhà sản xuất được {resolution} ạ. Mã yêu cầu đổi trả là {reference}. {refund_time}",
                                   "Order {order_id} was delivered {days} days ago; the manufacturer defect qualifies for {resolution}. Your return reference is {reference}. {refund_time}"),
    "utter_return_changed_mind": ("Dạ, shop nhận trả hàng đổi ý trong 7 ngày với sản phẩm còn nguyên hộp, seal, phụ kiện; phí 10% là {fee}, anh/chị được hoàn {refund}. Mã yêu cầu là {reference}. {refund_time}",
                                  "We accept change-of-mind returns within 7 days for sealed, unused products with all accessories; the 10% fee is {fee}, so you get {refund} back. Your reference is {reference}. {refund_time}"),
    "utter_return_defect_30_days": ("Dạ, đơn {order_id} đã giao {days} ngày (từ ngày 8 đến 30), lỗi nhà sản xuất được đổi sản phẩm mới 1 đổi 1, không hoàn tiền ạ. Mã yêu cầu là {reference}.",
                                    "Order {order_id} was delivered {days} days ago (day 8–30): a manufacturer defect gets a new replacement, no refund. Your reference is {reference}."),
    "utter_return_refused_in_ear": ("Dạ, tai nghe nhét tai đã mở hộp không được trả vì lý do đổi ý (vệ sinh) ạ. Nếu sản phẩm bị lỗi, em hỗ trợ đổi trả theo lỗi nhé.",
                                    "In-ear earphones whose box has been opened can't be returned for a change of mind (hygiene). If they are defective, I can help with a defect return."),
    "utter_return_refused_used": ("Dạ, trả hàng đổi ý chỉ áp dụng khi sản phẩm chưa sử dụng, còn nguyên hộp, seal và phụ kiện ạ.",
                                  "Change-of-mind returns need the product unused, with its box, seals and all accessories."),
    "utter_return_refused_late_change": ("Dạ, đơn {order_id} đã giao {days} ngày, quá 7 ngày nên không nhận trả hàng vì đổi ý ạ. Nếu sản phẩm lỗi, em hỗ trợ đổi mới trong 30 ngày.",
                                         "Order {order_id} was delivered {days} days ago, more than 7 days, so change-of-mind returns are no longer possible. A defective product can still be replaced within 30 days."),
    "utter_return_refused_after_30_days": ("Dạ, đơn {order_id} đã giao {days} ngày, quá 30 ngày nên không đổi trả được ạ. Sản phẩm vẫn được bảo hành đến {warranty_end}, anh/chị có muốn em tạo yêu cầu bảo hành không ạ?",
                                           "Order {order_id} was delivered {days} days ago, over 30 days, so it can't be returned. It is under warranty until {warranty_end}; shall I open a warranty claim?"),
    "utter_return_refused_after_30_days_no_warranty": ("Dạ, đơn {order_id} đã giao {days} ngày, quá 30 ngày nên không đổi trả được, và thời hạn bảo hành đã hết ngày {warranty_end} ạ.",
                                                       "Order {order_id} was delivered {days} days ago, over 30 days, so it can't be returned, and its warranty ended on {warranty_end}."),
    "utter_return_not_delivered": ("Dạ, đơn {order_id} đang ở trạng thái {status}, chưa giao nên chưa đổi trả được ạ.",
                                   "Order {order_id} is {status} and not delivered yet, so it can't be returned."),
    "utter_warranty_valid": ("Dạ, {product} còn bảo hành đến {ends_on}. Em đã tạo yêu cầu bảo hành {reference}. Anh/chị mang máy tới cửa hàng hoặc đăng ký nhận máy tận nơi miễn phí (TP.HCM, Hà Nội); sửa tối đa 15 ngày làm việc.{loan}",
                             "{product} is under warranty until {ends_on}. I've opened warranty claim {reference}. Bring it to either store or request a free pick-up (TP.HCM, Hà Nội); repairs take at most 15 working days.{loan}"),
    "utter_warranty_expired": ("Dạ, {product} đã hết hạn bảo hành từ {ends_on} ({months} tháng kể từ ngày giao) ạ. Em có thể chuyển anh/chị tới nhân viên để tư vấn sửa chữa.",
                               "{product}'s warranty ended on {ends_on} ({months} months from delivery). I can connect you with a person to discuss a repair."),
    "utter_warranty_excluded": ("Dạ, lỗi do rơi vỡ, vào nước, cháy nổ do điện hoặc sửa chữa bên ngoài không thuộc diện bảo hành ạ. Em có thể chuyển anh/chị tới nhân viên để được tư vấn.",
                                "Damage from drops, cracks, liquid, power surges or third-party repairs is not covered by warranty. I can connect you with a person for advice."),
    "utter_warranty_not_delivered": ("Dạ, đơn {order_id} chưa giao nên chưa tính bảo hành ạ.", "Order {order_id} hasn't been delivered yet, so warranty hasn't started."),
    "utter_product_info": ("Dạ, {name} giá {price}, bảo hành {warranty}. {stock}",
                           "{name} costs {price}, warranty {warranty}. {stock}"),
    "utter_product_unknown": ("Dạ, sản phẩm này shop chưa kinh doanh ạ. Shop có điện thoại Nova, laptop Lumi Book, tai nghe Echo, máy giặt AquaWash, tủ lạnh FreshCool, điều hòa Breeze, sạc PowerGo và đồng hồ Pulse S3.",
                             "We don't sell that product. We carry Nova phones, Lumi Book laptops, Echo headphones, AquaWash washers, FreshCool fridges, Breeze air conditioners, PowerGo power banks and the Pulse S3 watch."),
    "utter_faq_not_sure": ("Dạ, em chưa chắc câu trả lời cho câu hỏi này ạ. Anh/chị nói rõ hơn giúp em, hoặc em chuyển anh/chị tới nhân viên nhé?",
                           "I'm not sure about that one. Could you say more, or shall I connect you with a person?"),
    "utter_form_stopped": ("Dạ, em đã dừng yêu cầu này. Anh/chị cần em hỗ trợ gì khác không ạ?", "OK, I've stopped that request. Anything else I can help with?"),
    "utter_anything_else": ("Dạ, anh/chị cần em hỗ trợ gì thêm không ạ?", "Is there anything else I can help with?"),
    "utter_which_task": ("Dạ, anh/chị cần em giúp gì ạ: tra cứu, thay đổi, hủy đơn, đổi trả hay bảo hành?",
                         "What would you like to do: track, change or cancel an order, a return, or a warranty claim?"),
    "utter_default": ("Dạ, em chưa hiểu rõ ý anh/chị. Anh/chị có thể nói lại theo cách khác giúp em không ạ?",
                      "Sorry, I didn't quite understand. Could you rephrase that?"),
    "utter_backend_error": ("Dạ, hệ thống đơn hàng đang bận, em chưa xử lý được ngay. Anh/chị thử lại sau ít phút hoặc gặp nhân viên giúp em ạ.",
                            "The order system is busy right now. Please try again in a few minutes or talk to a person."),
}

BUTTONS = {
    "utter_greet": [("Tra cứu đơn hàng", "Track an order", "/order_status"), ("Đổi trả", "Return", "/return_request"),
                    ("Bảo hành", "Warranty", "/warranty_claim"), ("Hỏi sản phẩm", "Product question", "/product_info")],
    "utter_faq_not_sure": [("Gặp nhân viên", "Talk to a person", "/request_human")],
    "utter_cancel_confirm": [("Xác nhận hủy", "Yes, cancel", "/affirm"), ("Giữ đơn", "Keep it", "/deny")],
    "utter_ask_return_reason": [("Sản phẩm bị lỗi", "It's defective", '/inform{"return_reason":"defect"}'),
                                ("Tôi đổi ý", "Changed my mind", '/inform{"return_reason":"changed_mind"}')],
    "utter_ask_box_state": [("Còn nguyên seal", "Sealed, unused", '/inform{"box_state":"sealed"}'),
                            ("Đã mở/đã dùng", "Opened or used", '/inform{"box_state":"opened"}')],
    "utter_ask_resolution": [("Đổi sản phẩm mới", "Replacement", '/inform{"resolution":"exchange"}'),
                             ("Hoàn tiền", "Refund", '/inform{"resolution":"refund"}')],
    "utter_ask_change_field": [("Địa chỉ", "Address", '/inform{"change_field":"address"}'),
                               ("Số điện thoại", "Phone", '/inform{"change_field":"phone"}'),
                               ("Thời gian giao", "Delivery time", '/inform{"change_field":"delivery_time"}'),
                               ("Sản phẩm", "Items", '/inform{"change_field":"items"}')],
    "utter_which_task": [("Tra cứu đơn", "Track order", "/order_status"), ("Thay đổi đơn", "Change order", "/order_change"),
                         ("Hủy đơn", "Cancel order", "/order_cancel"), ("Đổi trả", "Return", "/return_request"),
                         ("Bảo hành", "Warranty", "/warranty_claim")],
    "utter_return_refused_after_30_days": [("Tạo yêu cầu bảo hành", "Open a warranty claim", "/warranty_claim")],
    "utter_warranty_expired": [("Gặp nhân viên", "Talk to a person", "/request_human")],
    "utter_warranty_excluded": [("Gặp nhân viên", "Talk to a person", "/request_human")],
}

# Intents that end a form to start another task (the customer changed their mind).
SWITCHES = {intent: form for form, (intent, _, _) in FORMS.items()}
# Intents answered in the middle of a form, after which the form goes on.
INTERRUPTIONS = {"faq": "action_answer_faq", "bot_challenge": "utter_iamabot", "out_of_scope": "utter_out_of_scope",
                 "greet": "utter_ask_continue", "thank": "utter_ask_continue"}


def _variants(name: str, vi: str, en: str) -> List[dict]:
    buttons = BUTTONS.get(name, [])
    en_variant: dict = {"text": en, "condition": [{"type": "slot", "name": "language", "value": "en"}]}
    vi_variant: dict = {"text": vi}
    if buttons:
        en_variant["buttons"] = [{"title": t_en, "payload": p} for _, t_en, p in buttons]
        vi_variant["buttons"] = [{"title": t_vi, "payload": p} for t_vi, _, p in buttons]
    return [en_variant, vi_variant]


def domain() -> dict:
    slots: Dict[str, dict] = {}
    for slot, entity in SLOTS.items():
        spec: dict = {"type": "any", "influence_conversation": False}
        spec["mappings"] = [{"type": "from_entity", "entity": entity}] if entity else [{"type": "custom"}]
        if slot == "language":
            spec["initial_value"] = "vi"
        slots[slot] = spec
    responses = {name: _variants(name, vi, en) for name, (vi, en) in RESPONSES.items()}
    responses["utter_ask_continue"] = _variants("utter_ask_continue", "Dạ, em chào anh/chị, mình tiếp tục yêu cầu đang làm nhé ạ.",
                                                "Hello again, let's continue with your request.")
    return {
        "version": "3.1",
        "intents": INTENTS,
        "entities": ENTITIES,
        "slots": slots,
        "forms": {form: {"required_slots": required} for form, (_, _, required) in FORMS.items()},
        "responses": responses,
        "actions": CUSTOM_ACTIONS,
        "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": False},
    }


def form_rules() -> dict:
    rules: List[dict] = []
    for form, (intent, submit, _) in FORMS.items():
        rules.append({"rule": f"activate {form}", "steps": [
            {"intent": intent}, {"action": form}, {"active_loop": form}]})
        rules.append({"rule": f"submit {form}", "condition": [{"active_loop": form}], "steps": [
            {"action": form}, {"active_loop": None}, {"slot_was_set": [{"requested_slot": None}]}, {"action": submit}]})
        rules.append({"rule": f"stop {form} on deny", "condition": [{"active_loop": form}], "steps": [
            {"intent": "deny"}, {"action": "action_deactivate_loop"}, {"active_loop": None},
            {"action": "utter_form_stopped"}]})
        for handoff_intent in ("request_human", "complain"):
            rules.append({"rule": f"{handoff_intent} during {form}", "condition": [{"active_loop": form}], "steps": [
                {"intent": handoff_intent}, {"action": "action_deactivate_loop"}, {"active_loop": None},
                {"action": "action_handoff"}]})
        for other_intent, other_form in SWITCHES.items():
            if other_form == form:
                continue
            rules.append({"rule": f"switch from {form} to {other_form}", "condition": [{"active_loop": form}], "steps": [
                {"intent": other_intent}, {"action": "action_deactivate_loop"}, {"active_loop": None},
                {"action": other_form}, {"active_loop": other_form}]})
        for other_intent, answer in INTERRUPTIONS.items():
            if other_intent == intent:
                continue
            rules.append({"rule": f"answer {other_intent} during {form}", "condition": [{"active_loop": form}], "steps": [
                {"intent": other_intent}, {"action": answer}, {"action": form}, {"active_loop": form}]})
    return {"version": "3.1", "rules": rules}


def dump(data: dict) -> str:
    header = "# Generated by scripts/gen_domain.py; edit that file and run `make generate`.\n"
    return header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)


OUTPUTS = {ROOT / "domain.yml": domain, ROOT / "bot" / "data" / "rules" / "forms.yml": form_rules}


def main(check: bool = False) -> int:
    stale = []
    for path, build in OUTPUTS.items():
        text = dump(build())
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date, run `make generate`: " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(check="--check" in sys.argv))
