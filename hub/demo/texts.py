"""What the demo's customers write and its agents answer, in English and Bengali."""

from __future__ import annotations

# (subject, first message, follow-up); "refund", "invoice" and "payment" route to billing.
QUESTIONS = {
    "en": (
        (
            "Where is my order?",
            "My order {order} has not arrived yet. Can you check where it is?",
            "Any news on {order}? The tracking page has not changed.",
        ),
        (
            "Refund for a return",
            "I sent back order {order} last week. When will the refund come?",
            "Still no refund for {order}, could you look again?",
        ),
        (
            "Wrong size",
            "The shoes in order {order} are one size too small. Can I exchange them?",
            "I have the box ready, where do I send it?",
        ),
        (
            "Invoice needed",
            "Please send an invoice for order {order} with our company name.",
            "The invoice should say Example Trading Ltd.",
        ),
        (
            "Payment failed",
            "My card payment for {order} failed but the money left my account.",
            "The bank says the payment went through. Please check.",
        ),
        (
            "Change address",
            "Can I change the delivery address of {order}?",
            "The new address is house 12, road 5, Dhanmondi.",
        ),
    ),
    "bn": (
        (
            "অর্ডার কোথায়?",
            "আমার অর্ডার {order} এখনো আসেনি। একটু দেখবেন কোথায় আছে?",
            "{order} এর কোনো খবর আছে? ট্র্যাকিং পেজ বদলায়নি।",
        ),
        (
            "রিফান্ড",
            "গত সপ্তাহে {order} ফেরত পাঠিয়েছি। refund কবে পাব?",
            "{order} এর refund এখনো পাইনি, আবার দেখবেন?",
        ),
        ("সাইজ ভুল", "{order} অর্ডারের জুতা এক সাইজ ছোট। বদলানো যাবে?", "বাক্স তৈরি আছে, কোথায় পাঠাব?"),
        (
            "পেমেন্ট",
            "{order} এর payment কেটে নিয়েছে কিন্তু অর্ডার কনফার্ম হয়নি।",
            "ব্যাংক বলছে টাকা গেছে। দয়া করে দেখুন।",
        ),
    ),
}

ANSWERS = {
    "en": (
        "Thanks for waiting. {order} left our warehouse yesterday and arrives in two days.",
        "I have checked {order}: the refund was issued today and shows in 3-5 working days.",
        "Of course. I have sent you a return label for {order}; the new size ships on its return.",
        "Done: the corrected document for {order} is attached to this ticket.",
    ),
    "bn": (
        "অপেক্ষার জন্য ধন্যবাদ। {order} গতকাল পাঠানো হয়েছে, দুই দিনের মধ্যে পৌঁছাবে।",
        "{order} দেখেছি: আজ refund দেওয়া হয়েছে, ৩-৫ কার্যদিবসে দেখা যাবে।",
        "অবশ্যই। {order} এর জন্য রিটার্ন লেবেল পাঠিয়েছি।",
    ),
}

CLOSING = {
    "en": "Glad we could help. I am closing this ticket; just reply if anything else comes up.",
    "bn": "সাহায্য করতে পেরে ভালো লাগল। টিকিটটি বন্ধ করছি; আর কিছু লাগলে জানাবেন।",
}

COMMENTS = {
    "en": ("Quick and friendly, thank you!", "Took a while but sorted.", "Still not happy."),
    "bn": ("খুব দ্রুত সাহায্য পেয়েছি, ধন্যবাদ!", "একটু দেরি হলো।", "সন্তুষ্ট নই।"),
}
